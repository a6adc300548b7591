"""report cache high-water mark: a bulletin's cached counts follow new events incrementally

``report_cache_state.watermark`` is the highest event id counted in a bulletin's cached rows;
``bulletin_events_version.rewritten`` the version of the last write that did more than append
events (a deletion, a machine flag). While nothing was rewritten since the cached version, the
report cache adds only the events after the watermark instead of recounting the bulletin
(newsletter.reports.cache). Rows cached before this migration have no watermark: the next report
recomputes them once.

Revision ID: 0014_report_cache_watermark
Revises: 0013_bulletin_editions
Create Date: 2026-12-01 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_report_cache_watermark"
down_revision: str | None = "0013_bulletin_editions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulletin_events_version") as batch:
        # Existing versions: treat everything so far as rewritten (a full recompute first).
        batch.add_column(sa.Column("rewritten", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE bulletin_events_version SET rewritten = version")
    with op.batch_alter_table("report_cache_state") as batch:
        batch.add_column(sa.Column("watermark", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_cache_state") as batch:
        batch.drop_column("watermark")
    with op.batch_alter_table("bulletin_events_version") as batch:
        batch.drop_column("rewritten")
