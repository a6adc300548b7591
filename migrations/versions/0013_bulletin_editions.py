"""bulletin.month holds an issue key: a month's bulletin (YYYY-MM) or an extra edition of it

An extra edition (an urgent briefing, a correction) is named 'YYYY-MM-<edition>', up to 48
characters (newsletter.plan.issuekey). bulletin.month and bulletin_review.month are widened from
7 to 48 characters; the column keeps its name and its unique constraint. Existing rows are
months and stay as they are.

Revision ID: 0013_bulletin_editions
Revises: 0012_send_requests
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlmodel
from alembic import op

revision: str = "0013_bulletin_editions"
down_revision: str | None = "0012_send_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("bulletin", "bulletin_review"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "month",
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=7),
                type_=sqlmodel.sql.sqltypes.AutoString(length=48),
                existing_nullable=False,
            )


def downgrade() -> None:
    # Refused while an extra edition exists: its key does not fit in 7 characters.
    for table in ("bulletin", "bulletin_review"):
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "month",
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=48),
                type_=sqlmodel.sql.sqltypes.AutoString(length=7),
                existing_nullable=False,
            )
