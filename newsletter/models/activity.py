"""The append-only activity log and the shared rate-limit counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class ActivityEntry(SQLModel, table=True):
    """Who (a person, a token, the CLI or the scheduler) did what, to which object, when.

    Rows are only ever inserted: the migration adds triggers that refuse UPDATE and DELETE on
    both SQLite and PostgreSQL. ``actor`` is kept as text so an entry outlives its user.
    """

    __tablename__ = "activity"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=320, index=True)
    actor_user_id: int | None = Field(default=None)
    action: str = Field(max_length=60, index=True)
    object: str = Field(default="", max_length=320, index=True)
    detail: str = Field(default="", max_length=1000)
    client: str | None = Field(default=None, max_length=64)


class RateCounter(SQLModel, table=True):
    """Attempts counted for one key in one fixed time window (newsletter.ratelimit)."""

    __tablename__ = "rate_counter"
    __table_args__ = (UniqueConstraint("key", "window_start"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    window_start: datetime = Field(index=True)
    count: int = 0
