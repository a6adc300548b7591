"""send requests, send runs, the scheduler's heartbeat; deliveries indexed by send time

* ``send_request``: "send now" (or "resume") from the bulletin page, carried out by the leading
  scheduler; at most one open request per bulletin (partial unique index).
* ``send_run``: which process (host, pid, program) runs or ran each part of a send.
* ``scheduler_heartbeat``: the leading scheduler's last tick.
* ``ix_delivery_bulletin_sent_at``: the progress page's rate (messages in the last minute).

Revision ID: 0012_send_requests
Revises: 0011_report_cache_complaints
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012_send_requests"
down_revision: str | None = "0011_report_cache_complaints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("carried_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"], ["bulletin.id"], name=op.f("fk_send_request_bulletin_id_bulletin")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_request")),
    )
    with op.batch_alter_table("send_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_send_request_bulletin_id"), ["bulletin_id"], unique=False
        )
        batch_op.create_index(
            "uq_send_request_open",
            ["bulletin_id"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
    op.create_table(
        "send_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bulletin_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulletin_id"], ["bulletin.id"], name=op.f("fk_send_run_bulletin_id_bulletin")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_run")),
    )
    with op.batch_alter_table("send_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_send_run_bulletin_id"), ["bulletin_id"], unique=False)
    op.create_table(
        "scheduler_heartbeat",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("program", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("leading_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_tick_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("tick_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_heartbeat")),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_bulletin_sent_at", ["bulletin_id", "sent_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_bulletin_sent_at")
    op.drop_table("scheduler_heartbeat")
    with op.batch_alter_table("send_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_send_run_bulletin_id"))
    op.drop_table("send_run")
    with op.batch_alter_table("send_request", schema=None) as batch_op:
        batch_op.drop_index("uq_send_request_open")
        batch_op.drop_index(batch_op.f("ix_send_request_bulletin_id"))
    op.drop_table("send_request")
