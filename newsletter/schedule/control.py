"""What people do to the schedule, from the command line or the bulletin page: pause and resume
a month, ask for a send now (or a stopped send resumed), and whether a scheduler is there to
carry it out.

* :func:`set_paused`: ``newsletter schedule pause/resume`` and the bulletin page's buttons.
* :func:`request_send`: a "send now" request, idempotent: a bulletin has at most one open
  request (a partial unique index), so a double click or two people asking make one. The
  leading scheduler carries it out on its next tick (:meth:`Lifecycle.tick`), through the same
  start path as a scheduled send; the send lock makes sure there is one sender.
* :func:`beat` and :func:`scheduler_state`: the leading scheduler records each tick; the staff
  app says plainly when no scheduler leads or none has ticked lately.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.db import dialect_insert
from newsletter.dispatch import this_process
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    SchedulerHeartbeat,
    SendRequest,
    SendRequestKind,
    SendRequestState,
)
from newsletter.plan.model import Plan
from newsletter.sendability import start_refusal_reason

# Statuses the scheduler still acts on; any other belongs to a send or to a person.
OPEN = frozenset({BulletinStatus.draft, BulletinStatus.approved, BulletinStatus.scheduled})
# Statuses a "resume" request picks up: a send a person stopped, or one that failed part-way.
RESUMABLE = frozenset({BulletinStatus.stopped, BulletinStatus.failed})
LATE_TICKS = 3  # a leader that has not ticked for this many ticks is not working


class ScheduleRefused(Exception):
    """The change may not be made; the message says why, in words for people."""


def find_bulletin(session: Session, month: str) -> Bulletin | None:
    return session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()


# --- pause and resume -------------------------------------------------------------------------


def set_paused(session: Session, month: str, *, paused: bool) -> Bulletin:
    """Pause (or resume) ``month``'s bulletin: the scheduler does not send a paused one.

    Raises :class:`ScheduleRefused` when there is no bulletin or it is past scheduling (being
    sent, sent, missed...). The caller commits.
    """
    bulletin = find_bulletin(session, month)
    if bulletin is None:
        raise ScheduleRefused(f"there is no {month} bulletin yet; build it first")
    if bulletin.status not in OPEN:
        raise ScheduleRefused(
            f"the {month} bulletin is {bulletin.status}; only one not yet sent can be paused "
            "or resumed"
        )
    bulletin.schedule_paused = paused
    session.add(bulletin)
    session.flush()
    return bulletin


# --- send requests ----------------------------------------------------------------------------


def open_request(session: Session, bulletin_id: int) -> SendRequest | None:
    """The bulletin's request not yet closed (pending or started), if any."""
    return session.exec(
        select(SendRequest).where(
            col(SendRequest.bulletin_id) == bulletin_id, col(SendRequest.closed_at).is_(None)
        )
    ).first()


def last_request(session: Session, bulletin_id: int) -> SendRequest | None:
    return session.exec(
        select(SendRequest)
        .where(col(SendRequest.bulletin_id) == bulletin_id)
        .order_by(col(SendRequest.id).desc())
    ).first()


def request_send(
    session: Session,
    bulletin: Bulletin,
    *,
    by: str,
    kind: SendRequestKind,
    now: datetime,
) -> tuple[SendRequest, bool]:
    """Record that ``by`` asks for ``bulletin`` to be sent now (or resumed); the request and
    whether this call made it (False: an open request was there already, and is returned).

    One statement (``INSERT ... ON CONFLICT DO NOTHING`` on the open-request index), so two
    people asking at the same moment make one request. The caller checks sendability first
    and commits.
    """
    assert bulletin.id is not None
    stmt = (
        dialect_insert(session, SendRequest)
        .values(
            bulletin_id=bulletin.id,
            month=bulletin.month,
            kind=kind,
            state=SendRequestState.pending,
            requested_by=by,
            requested_at=now,
            carried_by="",
            outcome="",
        )
        .on_conflict_do_nothing()
        .returning(col(SendRequest.id))
    )
    made = session.execute(stmt).first()
    existing = open_request(session, bulletin.id)
    assert existing is not None
    return existing, made is not None


def request_refusal(
    bulletin: Bulletin | None,
    kind: SendRequestKind,
    plan: Plan | None,
    *,
    sender_running: bool = True,
) -> str | None:
    """Why a request of ``kind`` for ``bulletin`` may not be carried out now, in words (None:
    it may). The page asks before recording a request; the scheduler asks again before acting.
    A first start goes through the one sendability rule (:mod:`newsletter.sendability`). A
    send left ``sending`` by a process that died (``sender_running`` False) may be resumed."""
    if bulletin is None:
        return "there is no bulletin for that month any more"
    status = BulletinStatus(bulletin.status)
    if kind is SendRequestKind.resume:
        if status in RESUMABLE or (status is BulletinStatus.sending and not sender_running):
            return None
        if status is BulletinStatus.sending:
            return "it is being sent now"
        return f"it is {status}; only a stopped or failed send can be resumed"
    if status is BulletinStatus.sending:
        return "it is being sent already"
    if status is BulletinStatus.sent:
        return "it has been sent"
    if status in RESUMABLE:
        return f"its send is {status}: resume it instead"
    return start_refusal_reason(bulletin, plan)


def withdraw_request(session: Session, bulletin_id: int, *, now: datetime) -> SendRequest | None:
    """Withdraw the bulletin's pending request (None: there was none still pending)."""
    request = open_request(session, bulletin_id)
    if request is None or request.state != SendRequestState.pending:
        return None
    done = session.execute(
        update(SendRequest)
        .where(col(SendRequest.id) == request.id, col(SendRequest.state) == "pending")
        .values(state=SendRequestState.withdrawn, closed_at=now, outcome="withdrawn")
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return None
    session.refresh(request)
    return request


def close_request(
    session: Session, request_id: int, *, state: SendRequestState, outcome: str, now: datetime
) -> None:
    session.execute(
        update(SendRequest)
        .where(col(SendRequest.id) == request_id, col(SendRequest.closed_at).is_(None))
        .values(state=state, outcome=outcome[:500], closed_at=now)
    )


def start_request(session: Session, request_id: int, *, now: datetime) -> bool:
    """Claim a pending request for this process (True: it is ours to carry out)."""
    done = session.execute(
        update(SendRequest)
        .where(col(SendRequest.id) == request_id, col(SendRequest.state) == "pending")
        .values(
            state=SendRequestState.started,
            started_at=now,
            carried_by=f"the scheduler, {this_process().describe()}"[:300],
        )
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def pending_requests(session: Session) -> list[SendRequest]:
    return list(
        session.exec(
            select(SendRequest)
            .where(col(SendRequest.state) == SendRequestState.pending)
            .order_by(col(SendRequest.id))
        )
    )


def started_requests(session: Session) -> list[SendRequest]:
    return list(
        session.exec(
            select(SendRequest)
            .where(col(SendRequest.state) == SendRequestState.started)
            .order_by(col(SendRequest.id))
        )
    )


# --- the scheduler's heartbeat ----------------------------------------------------------------


def beat(
    session: Session, *, name: str, now: datetime, tick_seconds: int, leading_since: datetime
) -> None:
    """Record a tick of the leading scheduler ``name`` (the caller commits)."""
    me = this_process()
    values = {
        "host": me.host[:255],
        "pid": me.pid,
        "program": me.program,
        "leading_since": leading_since,
        "last_tick_at": now,
        "tick_seconds": tick_seconds,
    }
    stmt = dialect_insert(session, SchedulerHeartbeat).values(name=name, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))


@dataclass(frozen=True)
class SchedulerState:
    """Whether a scheduler will carry out a request soon, in words for the page."""

    running: bool
    text: str
    heartbeat: SchedulerHeartbeat | None = None


def scheduler_state(session: Session, *, leader_present: bool, now: datetime) -> SchedulerState:
    """From the leadership lock (``leader_present``: some process holds it now) and the last
    heartbeat: is a scheduler leading and ticking?"""
    heartbeat = session.exec(
        select(SchedulerHeartbeat).order_by(col(SchedulerHeartbeat.last_tick_at).desc())
    ).first()
    if not leader_present:
        return SchedulerState(
            False,
            "No scheduler is running, so nothing will carry out a send request until one "
            "starts. Ask whoever runs the service to start the scheduler.",
            heartbeat,
        )
    if heartbeat is None:
        return SchedulerState(
            True, "A scheduler holds the lead but has not checked in yet.", heartbeat
        )
    late = now - heartbeat.last_tick_at > timedelta(seconds=heartbeat.tick_seconds * LATE_TICKS)
    where = f"process {heartbeat.pid} ({heartbeat.program}) on {heartbeat.host}"
    if late:
        return SchedulerState(
            False,
            f"A scheduler holds the lead ({where}) but has not checked in since "
            f"{heartbeat.last_tick_at:%H:%M:%S} UTC: it may be stuck. Ask whoever runs the "
            "service to look at it.",
            heartbeat,
        )
    every = "second" if heartbeat.tick_seconds == 1 else f"{heartbeat.tick_seconds} seconds"
    return SchedulerState(
        True,
        f"The scheduler ({where}) checks every {every}; it last checked at "
        f"{heartbeat.last_tick_at:%H:%M:%S} UTC.",
        heartbeat,
    )
