"""report cache recomputed: rows computed by an earlier version are dropped

The report cache now also holds each bulletin's sent deliveries per agency. Cached rows made
by 0.1.0 lack them, and nothing else would make them stale (their bulletins' events versions
do not move on an upgrade), so reports after an upgrade showed nothing sent. Dropping the
cached rows and their state makes the next report recompute each bulletin once, from the
events and the ledger, which are untouched. No schema change.

Revision ID: 0008_report_cache_recompute
Revises: 0007_api_tokens
Create Date: 2026-12-01 05:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_report_cache_recompute"
down_revision: str | None = "0007_api_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("DELETE FROM report_cache")
    op.execute("DELETE FROM report_cache_reason")
    op.execute("DELETE FROM report_cache_state")


def downgrade() -> None:
    # The cache is derived data: an older version recomputes what it needs the same way.
    op.execute("DELETE FROM report_cache")
    op.execute("DELETE FROM report_cache_reason")
    op.execute("DELETE FROM report_cache_state")
