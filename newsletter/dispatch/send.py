"""Sending a month's bulletin: start (or resume) the send, stream batches, finish.

The order of things is the contract (save, then send):

0. The send takes the bulletin's send lock (:mod:`.lock`): one sender at a time.
1. One transaction: rows a crashed run left ``sending`` become ``unknown``; the bulletin moves
   to ``sending`` (only from a status TRANSITIONS allows); on a first start the audience is
   snapshotted into ``pending`` rows.
2. Per variant, pending rows are read by keyset in batches (:mod:`.batches`). Each batch is
   claimed (``sending``, with a batch number; leavers ``skipped``) and committed before it goes
   to the transport; its outcome is recorded when the transport answers.
3. A send that must stop (bad credentials, provider down, too many failed batches) leaves the
   bulletin ``failed``, its untouched rows ``pending``: running the send again resumes it.
   A person may stop a send (:func:`stop_send`): it ends after the batch in flight and stays
   ``stopped``; only a person resumes it (``resume_stopped=True``), never the scheduler.
   Otherwise the bulletin becomes ``sent``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select, update
from sqlmodel import Session, col

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.dispatch import ledger, runs
from newsletter.dispatch.batches import run_batches, transaction
from newsletter.dispatch.deliver import RetryPolicy, Sleep
from newsletter.dispatch.lock import send_lock
from newsletter.dispatch.shutdown import pause
from newsletter.dispatch.summary import DispatchError, Progress, SendSummary
from newsletter.lifecycle import TransitionError, transition
from newsletter.logs import log_context
from newsletter.models import Bulletin, BulletinStatus, DeliveryStatus, Variant
from newsletter.transports.base import Transport

log = logging.getLogger(__name__)

_FIRST_START = {BulletinStatus.approved, BulletinStatus.scheduled, BulletinStatus.missed}
_RESTART = {BulletinStatus.failed, BulletinStatus.sent}


def load_bulletin(session: Session, month: str) -> Bulletin:
    bulletin = session.scalars(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None:
        raise DispatchError(f"there is no bulletin for {month}; build it first")
    return bulletin


def _variants(session: Session, bulletin_id: int) -> list[Variant]:
    stmt = select(Variant).where(col(Variant.bulletin_id) == bulletin_id).order_by(col(Variant.id))
    return list(session.scalars(stmt))


@dataclass
class _Start:
    bulletin: Bulletin
    variants: list[Variant]
    pending: int
    interrupted: int
    nothing_to_do: bool = False


def stop_send(session: Session, month: str, *, clock: Clock) -> Bulletin:
    """Stop ``month``'s send after its batch in flight (the sender reads the status before each
    claim, whichever process or host it runs in). Raises :class:`DispatchError` unless sending."""
    bulletin = load_bulletin(session, month)
    try:
        return transition(session, bulletin, BulletinStatus.stopped, now=clock.now())
    except TransitionError as exc:
        raise DispatchError(
            f"bulletin {month} is {bulletin.status}; only a send can be stopped"
        ) from exc


def _start(
    conn: Connection, month: str, *, clock: Clock, retry_unknown: bool, resume_stopped: bool
) -> _Start:
    with transaction(conn) as session:
        bulletin = load_bulletin(session, month)
        assert bulletin.id is not None
        status = BulletinStatus(bulletin.status)
        variants = _variants(session, bulletin.id)
        if not variants:
            raise DispatchError(f"bulletin {month} has no variants; build it first")
        if status is BulletinStatus.stopped and not resume_stopped:
            raise DispatchError(
                f"bulletin {month} was stopped by a person; only a person resumes it "
                f"(newsletter bulletin send {month} --resume, or the bulletin's page)"
            )
        if status not in _FIRST_START | _RESTART | {BulletinStatus.sending, BulletinStatus.stopped}:
            raise DispatchError(
                f"bulletin {month} is {status}; only an approved bulletin can be sent"
            )
        interrupted = ledger.mark_interrupted(session, bulletin.id)
        if interrupted:
            log.warning(
                "%d deliveries of %s were being sent when a previous run stopped; they are "
                "now 'unknown' (resend them with --retry-unknown)",
                interrupted,
                month,
            )
        if status is BulletinStatus.sent and not (
            retry_unknown and ledger.count_status(session, bulletin.id, DeliveryStatus.unknown)
        ):
            return _Start(bulletin, variants, 0, interrupted, nothing_to_do=True)
        if status is not BulletinStatus.sending:
            try:
                transition(session, bulletin, BulletinStatus.sending, now=clock.now())
            except TransitionError as exc:
                raise DispatchError(str(exc)) from exc
        # A restart normally finds its rows; a bulletin marked failed before it ever started
        # has none, and is snapshotted like a first start.
        if status in _FIRST_START or not ledger.has_rows(session, bulletin.id):
            now = clock.now()
            session.execute(
                update(Bulletin).where(col(Bulletin.id) == bulletin.id).values(send_started_at=now)
            )
            added = ledger.snapshot(session, bulletin, now=now)
            missing = ledger.unmatched_count(session, bulletin)
            log.info("snapshotted %d recipients for %s", added, month)
            if missing:
                log.warning(
                    "%d subscribers of %s belong to agencies without a variant; not sent",
                    missing,
                    month,
                )
        if retry_unknown:
            reopened = ledger.reopen_unknown(session, bulletin.id)
            log.info("resending %d 'unknown' deliveries of %s", reopened, month)
        pending = ledger.count_status(session, bulletin.id, DeliveryStatus.pending)
        return _Start(bulletin, variants, pending, interrupted)


def send_bulletin(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    transport: Transport,
    clock: Clock,
    retry_unknown: bool = False,
    resume_stopped: bool = False,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
    policy: RetryPolicy | None = None,
    started_by: str = "",
) -> SendSummary:
    """Send (or resume sending) ``month``'s bulletin; every subscriber gets it at most once.

    Raises :class:`DispatchError` when the send cannot start. Problems during the send do not
    raise: they are in the summary (``stopped``, ``errors``) and the ledger. ``sleep`` waits
    between retries (tests inject one that moves a fake clock; the default ends early when the
    process is stopping, see :mod:`newsletter.dispatch.shutdown`); ``policy`` defaults to the
    settings' attempts and longest wait. A ``stopped`` send resumes only with
    ``resume_stopped`` (a person asked for it). ``started_by`` ("the scheduler", "the command
    line") is recorded with this process's host and id in ``send_run``, for the progress page.
    """
    sleep = sleep or pause  # a wait that ends when the process is asked to stop
    policy = policy or RetryPolicy(
        max_attempts=settings.send_max_attempts, max_wait=settings.send_max_wait
    )
    with engine.connect() as conn:
        with transaction(conn) as session:
            bulletin_id = load_bulletin(session, month).id
        assert bulletin_id is not None
        with (
            send_lock(conn, bulletin_id=bulletin_id, month=month),
            log_context(bulletin_id=bulletin_id, month=month),
        ):
            return _send_locked(
                conn,
                settings,
                month,
                transport=transport,
                clock=clock,
                retry_unknown=retry_unknown,
                resume_stopped=resume_stopped,
                progress=progress,
                sleep=sleep,
                policy=policy,
                started_by=started_by,
            )


def _send_locked(
    conn: Connection,
    settings: Settings,
    month: str,
    *,
    transport: Transport,
    clock: Clock,
    retry_unknown: bool,
    resume_stopped: bool,
    progress: Progress | None,
    sleep: Sleep,
    policy: RetryPolicy,
    started_by: str,
) -> SendSummary:
    start = _start(
        conn, month, clock=clock, retry_unknown=retry_unknown, resume_stopped=resume_stopped
    )
    bulletin = start.bulletin
    assert bulletin.id is not None
    summary = SendSummary(
        month=month,
        bulletin_id=bulletin.id,
        status=BulletinStatus(bulletin.status),
        interrupted=start.interrupted,
    )
    if start.nothing_to_do:
        with transaction(conn) as session:
            summary.by_agency = runs.counts(session, bulletin.id)
        return summary

    with transaction(conn) as session:
        run_id = runs.begin_run(
            session, bulletin_id=bulletin.id, started_by=started_by, now=clock.now()
        ).id
    assert run_id is not None
    if progress is not None:
        progress.start(start.pending)
    run_batches(
        conn,
        settings,
        bulletin=start.bulletin,
        variants=start.variants,
        summary=summary,
        transport=transport,
        clock=clock,
        sleep=sleep,
        policy=policy,
        progress=progress,
    )

    with transaction(conn) as session:
        fresh = session.get(Bulletin, bulletin.id)
        assert fresh is not None
        if fresh.status == BulletinStatus.stopped:
            pass  # a person stopped it: it stays stopped, whatever else happened
        elif summary.stopped is not None:
            if progress is not None:
                progress.note(summary.stopped)
            transition(session, fresh, BulletinStatus.failed, now=clock.now())
        else:
            transition(session, fresh, BulletinStatus.sent, now=clock.now())
            session.execute(
                update(Bulletin).where(col(Bulletin.id) == bulletin.id).values(sent_at=clock.now())
            )
        summary.status = BulletinStatus(fresh.status)
        summary.by_agency = runs.counts(session, bulletin.id)
        runs.end_run(session, run_id, outcome=str(fresh.status), now=clock.now())
    return summary
