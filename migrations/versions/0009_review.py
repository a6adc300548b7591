"""bulletin review: approval requests, rejections with a comment, approvals with what was approved

Revision ID: 0009_review
Revises: 0008_report_cache_recompute
Create Date: 2026-12-01 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_review"
down_revision: str | None = "0008_report_cache_recompute"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletin_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("plan_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"], ["bulletin.id"], name=op.f("fk_bulletin_review_bulletin_id_bulletin")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin_review")),
    )
    with op.batch_alter_table("bulletin_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulletin_review_bulletin_id"), ["bulletin_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bulletin_review_month"), ["month"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulletin_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulletin_review_month"))
        batch_op.drop_index(batch_op.f("ix_bulletin_review_bulletin_id"))
    op.drop_table("bulletin_review")
