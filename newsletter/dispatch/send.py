"""Sending a month's bulletin: start (or resume) the send, stream batches, finish.

The order of things is the contract (save, then send):

1. One transaction: rows a crashed run left ``sending`` become ``unknown``; the bulletin moves
   to ``sending`` (only from a status TRANSITIONS allows); on a first start the audience is
   snapshotted into ``pending`` rows.
2. Per variant, pending rows are read by keyset in batches. In one committed transaction the
   rows of subscribers who left since the snapshot become ``skipped`` and the rest ``sending``
   with a batch number. Only then does the batch go to the transport.
3. Each recipient's outcome is recorded. A send that must stop (bad credentials, provider down,
   too many failed batches) leaves the bulletin ``failed``, its untouched rows ``pending``:
   running the send again resumes it. Otherwise the bulletin becomes ``sent``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection, Engine, select, update
from sqlmodel import Session, col

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.dispatch import ledger, messages
from newsletter.dispatch.deliver import Delivered, RetryPolicy, Sleep, deliver
from newsletter.lifecycle import transition
from newsletter.models import Bulletin, BulletinStatus, DeliveryStatus, Variant
from newsletter.transports.base import Transport

log = logging.getLogger(__name__)

_FIRST_START = {BulletinStatus.approved, BulletinStatus.scheduled, BulletinStatus.missed}
_RESTART = {BulletinStatus.failed, BulletinStatus.sent}


class DispatchError(Exception):
    """A send cannot start (no such bulletin, not approved, not built). Nothing changed."""


class Progress(Protocol):
    """What a send reports while it runs (the CLI draws a rich progress bar from it)."""

    def start(self, total: int) -> None:
        """``total`` rows are pending at the start."""
        ...

    def advance(self, count: int) -> None:
        """``count`` more rows reached an outcome (sent, skipped, failed, unknown, pending)."""
        ...

    def note(self, message: str) -> None:
        """Something the operator should read (a failed batch, a pause)."""
        ...


@dataclass
class AgencyCounts:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0

    def add(self, other: AgencyCounts) -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.unknown += other.unknown
        self.pending += other.pending


@dataclass
class SendSummary:
    """The ledger of one bulletin after a send, by agency, and what this run did."""

    month: str
    bulletin_id: int
    status: BulletinStatus
    by_agency: dict[str, AgencyCounts] = field(default_factory=dict)
    sent_now: int = 0  # accepted by the transport during this run
    batches: int = 0  # batches handed to the transport during this run
    interrupted: int = 0  # rows a crashed run left "sending", now "unknown"
    stopped: str | None = None  # why the send stopped early (None: it ran to the end)
    errors: list[str] = field(default_factory=list)  # batch errors, first few

    @property
    def totals(self) -> AgencyCounts:
        total = AgencyCounts()
        for counts in self.by_agency.values():
            total.add(counts)
        return total


def _counts(session: Session, bulletin_id: int) -> dict[str, AgencyCounts]:
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


def _start(
    engine: Engine, settings: Settings, month: str, *, clock: Clock, retry_unknown: bool
) -> _Start:
    with session_scope(engine) as session:
        bulletin = load_bulletin(session, month)
        assert bulletin.id is not None
        status = BulletinStatus(bulletin.status)
        variants = _variants(session, bulletin.id)
        if not variants:
            raise DispatchError(f"bulletin {month} has no variants; build it first")
        if status not in _FIRST_START | _RESTART | {BulletinStatus.sending}:
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
            transition(session, bulletin, BulletinStatus.sending)
        if status in _FIRST_START:
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


@contextmanager
def _transaction(conn: Connection) -> Iterator[Session]:
    """One committed transaction on the send's own connection (kept open for the whole send:
    opening a SQLite connection per batch, with its PRAGMAs, cost more than the batch)."""
    with Session(bind=conn, expire_on_commit=False) as session, session.begin():
        yield session


def _record(
    conn: Connection, delivered: Delivered, *, bulletin_id: int, batch_no: int, clock: Clock
) -> None:
    now = clock.now()
    with _transaction(conn) as session:
        sent = [
            (r.recipient.delivery_id, r.provider_message_id)
            for r in delivered.sent
            if r.recipient.delivery_id is not None
        ]
        if sent and not (delivered.failed or delivered.unknown or delivered.pending):
            ids = {pmid for _, pmid in sent}
            if len(ids) == 1:
                # The common case (SendGrid accepted the whole request): one UPDATE by batch.
                ledger.mark_batch_sent(
                    session,
                    bulletin_id=bulletin_id,
                    batch=batch_no,
                    provider_message_id=ids.pop(),
                    now=now,
                )
                sent = []
        ledger.record_sent(session, sent, now=now)
        for status, results in (
            (DeliveryStatus.failed, delivered.failed),
            (DeliveryStatus.unknown, delivered.unknown),
        ):
            by_error: dict[str, list[int]] = defaultdict(list)
            for r in results:
                if r.recipient.delivery_id is not None:
                    by_error[r.error or status.value].append(r.recipient.delivery_id)
            for error, ids_ in by_error.items():
                ledger.set_status(
                    session, ids_, status, only_if=DeliveryStatus.sending, error=error
                )
        back = [r.delivery_id for r in delivered.pending if r.delivery_id is not None]
        ledger.set_status(
            session,
            back,
            DeliveryStatus.pending,
            only_if=DeliveryStatus.sending,
            error=delivered.stop or "not sent",
        )


def send_bulletin(
    engine: Engine,
    settings: Settings,
    month: str,
    *,
    transport: Transport,
    clock: Clock,
    retry_unknown: bool = False,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
    policy: RetryPolicy | None = None,
) -> SendSummary:
    """Send (or resume sending) ``month``'s bulletin; every subscriber gets it at most once.

    Raises :class:`DispatchError` when the send cannot start. Problems during the send do not
    raise: they are in the summary (``stopped``, ``errors``) and the ledger. ``sleep`` waits
    between retries (tests inject one that moves a fake clock); ``policy`` defaults to the
    settings' attempts and longest wait.
    """
    sleep = sleep or time.sleep
    policy = policy or RetryPolicy(
        max_attempts=settings.send_max_attempts, max_wait=settings.send_max_wait
    )
    start = _start(engine, settings, month, clock=clock, retry_unknown=retry_unknown)
    bulletin = start.bulletin
    assert bulletin.id is not None
    summary = SendSummary(
        month=month,
        bulletin_id=bulletin.id,
        status=BulletinStatus(bulletin.status),
        interrupted=start.interrupted,
    )
    if start.nothing_to_do:
        with Session(engine) as session:
            summary.by_agency = _counts(session, bulletin.id)
        return summary

    if progress is not None:
        progress.start(start.pending)
    with engine.connect() as conn:
        _run(
            conn,
            settings,
            start,
            summary,
            transport=transport,
            clock=clock,
            sleep=sleep,
            policy=policy,
            progress=progress,
        )

    with session_scope(engine) as session:
        fresh = session.get(Bulletin, bulletin.id)
        assert fresh is not None
        if summary.stopped is not None:
            if progress is not None:
                progress.note(summary.stopped)
            transition(session, fresh, BulletinStatus.failed)
        else:
            transition(session, fresh, BulletinStatus.sent)
            session.execute(
                update(Bulletin).where(col(Bulletin.id) == bulletin.id).values(sent_at=clock.now())
            )
        summary.status = BulletinStatus(fresh.status)
        summary.by_agency = _counts(session, bulletin.id)
    return summary


def _run(
    conn: Connection,
    settings: Settings,
    start: _Start,
    summary: SendSummary,
    *,
    transport: Transport,
    clock: Clock,
    sleep: Sleep,
    policy: RetryPolicy,
    progress: Progress | None,
) -> None:
    """The batch loop: mark, commit, send, record; until done or told to stop."""
    bulletin = start.bulletin
    assert bulletin.id is not None
    size = max(1, min(settings.batch_size, transport.max_batch))
    make_recipient = messages.RecipientFactory(settings, bulletin_id=bulletin.id)
    with _transaction(conn) as session:
        batch_no = ledger.last_batch_number(session, bulletin.id)
    failed_batches = 0
    for variant in start.variants:
        assert variant.id is not None
        after = 0
        while summary.stopped is None:
            with _transaction(conn) as session:
                rows = ledger.pending_page(
                    session,
                    bulletin_id=bulletin.id,
                    variant_id=variant.id,
                    after_id=after,
                    limit=size,
                )
                if not rows:
                    break
                first, after = rows[0].delivery_id, rows[-1].delivery_id
                gone = [r.delivery_id for r in rows if not r.sendable]
                ready = [r for r in rows if r.sendable]
                ledger.set_status(
                    session,
                    gone,
                    DeliveryStatus.skipped,
                    only_if=DeliveryStatus.pending,
                    error="unsubscribed, suppressed or erased after the snapshot",
                )
                if ready:
                    batch_no += 1
                    marked = ledger.mark_range_sending(
                        session,
                        bulletin_id=bulletin.id,
                        variant_id=variant.id,
                        first_id=first,
                        last_id=after,
                        batch=batch_no,
                    )
                    assert marked == len(ready), (marked, len(ready))
            # Committed: from here on a crash leaves these rows "sending", never "pending".
            if progress is not None and gone:
                progress.advance(len(gone))
            if not ready:
                continue
            recipients = [
                make_recipient(
                    delivery_id=r.delivery_id,
                    agency=r.agency,
                    email=r.email or "",
                    name=r.name,
                    subscriber_token=r.subscriber_token or "",
                )
                for r in ready
            ]
            batch = messages.variant_batch(settings, bulletin, variant, recipients)
            delivered = deliver(transport, batch, policy=policy, clock=clock, sleep=sleep)
            _record(conn, delivered, bulletin_id=bulletin.id, batch_no=batch_no, clock=clock)
            summary.batches += 1
            summary.sent_now += len(delivered.sent)
            if progress is not None:
                progress.advance(len(ready))
            if delivered.batch_error is not None:
                failed_batches += 1
                message = f"batch {batch_no} ({variant.agency}): {delivered.batch_error}"
                log.error("%s", message)
                if len(summary.errors) < 20:
                    summary.errors.append(message)
                if progress is not None:
                    progress.note(message)
                if failed_batches >= settings.send_error_threshold:
                    summary.stopped = (
                        f"paused after {failed_batches} failed batches "
                        f"(NEWSLETTER_SEND_ERROR_THRESHOLD={settings.send_error_threshold}); "
                        f"fix the cause, then run `newsletter bulletin send {start.bulletin.month}` "
                        "to resume"
                    )
            if delivered.stop is not None:
                summary.stopped = (
                    f"{delivered.stop}; nothing more was sent. Fix the cause, then run "
                    f"`newsletter bulletin send {start.bulletin.month}` to resume"
                )
        if summary.stopped is not None:
            break
