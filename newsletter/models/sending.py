"""Sends as people and processes see them: "send now" requests, the runs of a send (which
process, on which host), and the leading scheduler's heartbeat.

* ``send_request``: a person asked for a bulletin to be sent now (or a stopped send resumed);
  the leading scheduler carries it out on its next tick. At most one open request per bulletin
  (a partial unique index), so a double click or two people asking at once make one request.
* ``send_run``: one run of a send (a first start, a resume, a take-over), written by dispatch
  when it holds the send lock: host, process id, program and who started it. The progress page
  reads where a send runs from here, whatever process sends it.
* ``scheduler_heartbeat``: the leading scheduler's last tick, so the staff app can say plainly
  when no scheduler is running.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, text
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow
from newsletter.models.deliveries import Delivery


class SendRequestKind(StrEnum):
    send = "send"  # send now (a missed bulletin, or an approved one before or at its slot)
    resume = "resume"  # resume a send a person stopped


class SendRequestState(StrEnum):
    pending = "pending"  # waiting for the leading scheduler's next tick
    started = "started"  # the scheduler started the send
    done = "done"  # the send it started has ended (``outcome``: sent, failed, stopped)
    refused = "refused"  # the scheduler could not carry it out (``outcome`` says why)
    withdrawn = "withdrawn"  # a person withdrew it before it started


OPEN_REQUEST_STATES = (SendRequestState.pending, SendRequestState.started)


class SendRequest(SQLModel, table=True):
    """A person's "send now" (or "resume"), carried out by the leading scheduler."""

    __tablename__ = "send_request"
    __table_args__ = (
        # One open request per bulletin: the second click, or the second person, finds it.
        Index(
            "uq_send_request_open",
            "bulletin_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    month: str = Field(max_length=40)
    kind: SendRequestKind = Field(default=SendRequestKind.send, sa_type=String(20))
    state: SendRequestState = Field(default=SendRequestState.pending, sa_type=String(20))
    requested_by: str = Field(max_length=320)
    requested_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    carried_by: str = Field(default="", max_length=300)  # "scheduler, process 12 on host web-1"
    closed_at: datetime | None = None  # NULL while open (pending or started)
    outcome: str = Field(default="", max_length=500)


class SendRun(SQLModel, table=True):
    """One run of a bulletin's send by one process (written while it holds the send lock)."""

    __tablename__ = "send_run"

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    host: str = Field(default="", max_length=255)
    pid: int = 0
    program: str = Field(default="", max_length=200)  # "newsletter run", "scheduler.py", ...
    started_by: str = Field(default="", max_length=100)  # "the scheduler", "the command line"
    outcome: str = Field(default="", max_length=20)  # the bulletin's status when it ended


class SchedulerHeartbeat(SQLModel, table=True):
    """The leading scheduler's last tick (one row per scheduler service name)."""

    __tablename__ = "scheduler_heartbeat"

    name: str = Field(primary_key=True, max_length=100)
    host: str = Field(default="", max_length=255)
    pid: int = 0
    program: str = Field(default="", max_length=200)
    leading_since: datetime = Field(default_factory=utcnow)
    last_tick_at: datetime = Field(default_factory=utcnow)
    tick_seconds: int = 60


# The send's rate: messages sent in the last minute, per bulletin.
Index(
    "ix_delivery_bulletin_sent_at",
    Delivery.__table__.c.bulletin_id,  # type: ignore[attr-defined]
    Delivery.__table__.c.sent_at,  # type: ignore[attr-defined]
)
