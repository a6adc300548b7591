"""bulletin.month_hash: the fingerprint of the bulletin's own month in the plan

A bulletin is out of date when its month (theme, the catalogue items it uses, its send time)
changed since it was built; editing another month no longer counts (newsletter.sendability).
Rows built before this migration have an empty month_hash and are judged by plan_hash, the
whole plan's digest, as before.

Revision ID: 0010_bulletin_month_hash
Revises: 0009_review
Create Date: 2026-12-01 04:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_bulletin_month_hash"
down_revision: str | None = "0009_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulletin") as batch:
        batch.add_column(
            sa.Column(
                "month_hash",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("bulletin") as batch:
        batch.drop_column("month_hash")
