"""What the scheduler has done, and the table APScheduler keeps its jobs in.

``schedule_action`` makes every lifecycle step idempotent: a step is claimed by inserting its
(bulletin, action) row, which is unique, so a tick that runs twice, late, or in a second process
cannot build, remind or send twice. ``apscheduler_jobs`` is APScheduler 3's own job store table
(``SQLAlchemyJobStore``), declared here with APScheduler's exact shape so that the migrations
create it and schema comparisons know it; APScheduler finds it there and uses it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Float, LargeBinary, Table, Unicode, UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow

JOBS_TABLE = "apscheduler_jobs"

# The shape of apscheduler.jobstores.sqlalchemy.SQLAlchemyJobStore.jobs_t (3.11).
apscheduler_jobs = Table(
    JOBS_TABLE,
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class ScheduleAction(SQLModel, table=True):
    """One lifecycle step done (or claimed) for one bulletin: at most one row per step."""

    __tablename__ = "schedule_action"
    __table_args__ = (UniqueConstraint("bulletin_id", "action"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    action: str = Field(max_length=40)
    done_at: datetime = Field(default_factory=utcnow)
    detail: str = Field(default="", max_length=500)
