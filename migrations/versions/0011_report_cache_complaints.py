"""report cache recomputed: it now keeps each bulletin's complaints

The report cache holds, per bulletin and agency, complaints (spam reports from the provider's
webhook) beside bounces, opens, clicks and unsubscribes, for the staff dashboard's headline
figures. Cached rows made earlier lack them, and nothing else would make them stale (their
bulletins' events versions do not move on an upgrade), so the dashboard would show no
complaints. Dropping the cached rows and their state makes the next report recompute each
bulletin once, from the events and the ledger, which are untouched. No schema change.

Revision ID: 0011_report_cache_complaints
Revises: 0010_bulletin_month_hash
Create Date: 2026-12-01 08:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_report_cache_complaints"
down_revision: str | None = "0010_bulletin_month_hash"
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
