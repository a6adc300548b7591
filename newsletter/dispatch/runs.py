"""Where a send runs, and how far it has got: read from the ledger and the send lock, so the
answer is the same whichever process (web, scheduler, command line) or host sends.

* :func:`begin_run` / :func:`end_run`: the sender writes one ``send_run`` row per run (while it
  holds the send lock): host, process id, program, who started it.
* :func:`send_progress`: sent, failed, unknown and still to send per agency and in total; the
  rate over the last minute and the time to finish at that rate; the latest run and whether
  its process still holds the send lock.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, update
from sqlmodel import Session, col

from newsletter.dispatch import ledger
from newsletter.dispatch.lock import sender_alive
from newsletter.dispatch.summary import AgencyCounts
from newsletter.models import Bulletin, Delivery, DeliveryStatus, SendRun

RATE_WINDOW = timedelta(minutes=1)
MIN_WINDOW = timedelta(seconds=5)  # a send seconds old: do not divide by (almost) nothing


@dataclass(frozen=True)
class ThisProcess:
    host: str
    pid: int
    program: str

    def describe(self) -> str:
        return f"process {self.pid} ({self.program}) on {self.host}"


def this_process() -> ThisProcess:
    """This process as people know it: host, pid and the command that started it."""
    words = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"]
    if words[0] == "__main__.py":
        words = [Path(sys.argv[0]).parent.name]
    for arg in sys.argv[1:]:
        if arg.startswith("-") or len(words) >= 3:
            break
        words.append(arg)
    return ThisProcess(socket.gethostname(), os.getpid(), " ".join(words)[:200])


def begin_run(session: Session, *, bulletin_id: int, started_by: str, now: datetime) -> SendRun:
    me = this_process()
    run = SendRun(
        bulletin_id=bulletin_id,
        started_at=now,
        host=me.host[:255],
        pid=me.pid,
        program=me.program,
        started_by=started_by[:100],
    )
    session.add(run)
    session.flush()
    return run


def end_run(session: Session, run_id: int, *, outcome: str, now: datetime) -> None:
    session.execute(
        update(SendRun).where(col(SendRun.id) == run_id).values(ended_at=now, outcome=outcome[:20])
    )


def latest_run(session: Session, bulletin_id: int) -> SendRun | None:
    return session.scalars(
        select(SendRun)
        .where(col(SendRun.bulletin_id) == bulletin_id)
        .order_by(col(SendRun.started_at).desc(), col(SendRun.id).desc())
    ).first()


@dataclass(frozen=True)
class SendProgress:
    """How far a bulletin's send has got (see the module docstring)."""

    by_agency: dict[str, AgencyCounts]
    sent_last_minute: int
    per_minute: float  # messages a minute over the last minute (0: none sent lately)
    run: SendRun | None
    running: bool  # a process holds the send lock now

    @property
    def totals(self) -> AgencyCounts:
        total = AgencyCounts()
        for counts in self.by_agency.values():
            total.add(counts)
        return total

    @property
    def to_send(self) -> int:
        return self.totals.pending

    @property
    def done(self) -> int:
        """Rows with an outcome (sent, failed, unknown, skipped)."""
        t = self.totals
        return t.sent + t.failed + t.unknown + t.skipped

    @property
    def percent(self) -> int:
        total = self.done + self.to_send
        if total == 0:
            return 0
        return 100 if self.to_send == 0 else min(99, self.done * 100 // total)

    @property
    def minutes_left(self) -> float | None:
        """At the last minute's rate; None when nothing was sent lately (no estimate)."""
        if self.to_send == 0:
            return 0.0
        if self.per_minute <= 0:
            return None
        return self.to_send / self.per_minute


def counts(session: Session, bulletin_id: int) -> dict[str, AgencyCounts]:
    """The ledger by agency: sent, skipped, failed, unknown and still to send."""
    out: dict[str, AgencyCounts] = {}
    for agency, by_status in ledger.counts_by_agency(session, bulletin_id).items():
        out[agency] = AgencyCounts(
            sent=by_status.get(DeliveryStatus.sent, 0),
            skipped=by_status.get(DeliveryStatus.skipped, 0),
            failed=by_status.get(DeliveryStatus.failed, 0),
            unknown=by_status.get(DeliveryStatus.unknown, 0),
            pending=by_status.get(DeliveryStatus.pending, 0)
            + by_status.get(DeliveryStatus.sending, 0),
        )
    return out


def send_progress(session: Session, bulletin: Bulletin, *, now: datetime) -> SendProgress:
    """The send of ``bulletin`` as it stands at ``now``."""
    assert bulletin.id is not None
    run = latest_run(session, bulletin.id)
    since = now - RATE_WINDOW
    recent = session.execute(
        select(func.count())
        .select_from(Delivery)
        .where(
            col(Delivery.bulletin_id) == bulletin.id,
            col(Delivery.sent_at) >= since,
            col(Delivery.status) == DeliveryStatus.sent,
        )
    ).scalar_one()
    window = RATE_WINDOW
    if run is not None and run.ended_at is None:
        window = min(RATE_WINDOW, max(MIN_WINDOW, now - run.started_at))
    per_minute = recent / (window.total_seconds() / 60) if recent else 0.0
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return SendProgress(
        by_agency=counts(session, bulletin.id),
        sent_last_minute=int(recent),
        per_minute=per_minute,
        run=run,
        running=sender_alive(engine, bulletin_id=bulletin.id),
    )
