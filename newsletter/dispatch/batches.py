"""The batch loop of a send: claim a page of the ledger, hand it over, record the outcome.

At most one batch is ever ``sending``: it is claimed (marked and committed) before it leaves,
and its outcome is recorded in the same transaction that claims the next one. What overlaps is
only the harmless part: while a batch is with the transport (a worker thread, mostly waiting on
the network), the next page is read, its recipients built and, when the transport can
``prepare`` one (SendGrid), its request body serialised. Because that page was read
before it is claimed, the claim re-checks each subscriber: whoever unsubscribed meanwhile is
``skipped``, never sent. A crash therefore leaves at most one batch ``sending`` (it becomes
``unknown`` on the next start), and never a message sent without a claimed row.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from sqlalchemy import Connection, select
from sqlmodel import Session, col

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.dispatch import ledger, messages
from newsletter.dispatch.deliver import Delivered, RetryPolicy, Sleep, deliver
from newsletter.dispatch.shutdown import pause, shutdown_requested
from newsletter.dispatch.summary import Progress, SendSummary
from newsletter.models import Bulletin, BulletinStatus, DeliveryStatus, Variant
from newsletter.transports.base import Batch, Transport

log = logging.getLogger(__name__)

GONE = "unsubscribed, suppressed or erased after the snapshot"


@contextmanager
def transaction(conn: Connection) -> Iterator[Session]:
    """One committed transaction on the send's own connection (kept open for the whole send:
    opening a SQLite connection per batch, with its PRAGMAs, cost more than the batch)."""
    with Session(bind=conn, expire_on_commit=False) as session, session.begin():
        yield session


@dataclass
class _Page:
    """One keyset page of a variant's pending rows, read but not yet claimed."""

    variant: Variant
    first: int
    last: int
    gone: list[int]  # not sendable when read
    batch: Batch  # the sendable ones, as recipients


class _Pages:
    """Walks the pending rows variant by variant, by keyset (id > the last one read)."""

    def __init__(
        self,
        conn: Connection,
        settings: Settings,
        *,
        bulletin: Bulletin,
        variants: Sequence[Variant],
        size: int,
        transport: Transport | None = None,
    ) -> None:
        assert bulletin.id is not None
        self.conn = conn
        self.settings = settings
        self.bulletin = bulletin
        self.variants = list(variants)
        self.size = size
        self.index = 0
        self.after = 0
        self.make_recipient = messages.RecipientFactory(settings, bulletin_id=bulletin.id)
        # A transport that can build a request ahead does it here, while the previous batch is
        # in flight, rather than on the critical path after the claim is committed.
        self.prepare: Callable[[Batch], None] | None = getattr(transport, "prepare", None)

    def next(self) -> _Page | None:
        assert self.bulletin.id is not None
        while self.index < len(self.variants):
            variant = self.variants[self.index]
            assert variant.id is not None
            with transaction(self.conn) as session:
                rows = ledger.pending_page(
                    session,
                    bulletin_id=self.bulletin.id,
                    variant_id=variant.id,
                    after_id=self.after,
                    limit=self.size,
                )
            if not rows:
                self.index += 1
                self.after = 0
                continue
            self.after = rows[-1].delivery_id
            recipients = self.make_recipient.many(
                (r.delivery_id, r.agency, r.email or "", r.name, r.subscriber_token or "")
                for r in rows
                if r.sendable
            )
            batch = messages.variant_batch(self.settings, self.bulletin, variant, recipients)
            if self.prepare is not None and recipients:
                self.prepare(batch)
            return _Page(
                variant=variant,
                first=rows[0].delivery_id,
                last=rows[-1].delivery_id,
                gone=[r.delivery_id for r in rows if not r.sendable],
                batch=batch,
            )
        return None


def _claim(session: Session, page: _Page, *, bulletin_id: int, batch_no: int) -> list[int]:
    """Mark the page ``sending`` as batch ``batch_no``; return the ids that became unsendable
    since the page was read (now ``skipped``), besides those already known to be gone."""
    assert page.variant.id is not None
    ledger.set_status(
        session, page.gone, DeliveryStatus.skipped, only_if=DeliveryStatus.pending, error=GONE
    )
    if not page.batch.recipients:
        return []
    marked = ledger.mark_range_sending(
        session,
        bulletin_id=bulletin_id,
        variant_id=page.variant.id,
        first_id=page.first,
        last_id=page.last,
        batch=batch_no,
    )
    if marked == len(page.batch.recipients):
        return []
    # Someone left between reading and claiming: their rows are still pending in the range.
    left = ledger.pending_in_range(
        session,
        bulletin_id=bulletin_id,
        variant_id=page.variant.id,
        first_id=page.first,
        last_id=page.last,
    )
    ledger.set_status(
        session, left, DeliveryStatus.skipped, only_if=DeliveryStatus.pending, error=GONE
    )
    if marked + len(left) != len(page.batch.recipients):
        # Only another sender could cause this, and the send lock rules that out; refuse to
        # send rather than risk it (the claim's transaction rolls back: nothing is claimed).
        raise RuntimeError(
            f"claimed {marked} + skipped {len(left)} rows for a page of "
            f"{len(page.batch.recipients)}; is another process sending this bulletin?"
        )
    return left


def _record(
    session: Session, delivered: Delivered, *, bulletin_id: int, batch_no: int, clock: Clock
) -> None:
    now = clock.now()
    sent = [
        (r.recipient.delivery_id, r.provider_message_id)
        for r in delivered.sent
        if r.recipient.delivery_id is not None
    ]
    if sent and not (delivered.failed or delivered.unknown or delivered.pending):
        ids = {pmid for _, pmid in sent}
        if len(ids) == 1:
            # The common case (SendGrid took the whole request): one UPDATE by batch number.
            ledger.mark_batch_sent(
                session,
                bulletin_id=bulletin_id,
                batch=batch_no,
                provider_message_id=ids.pop(),
                now=now,
            )
            sent = []
    ledger.record_sent(session, sent, bulletin_id=bulletin_id, now=now)
    for status, results in (
        (DeliveryStatus.failed, delivered.failed),
        (DeliveryStatus.unknown, delivered.unknown),
    ):
        by_error: dict[str, list[int]] = defaultdict(list)
        for r in results:
            if r.recipient.delivery_id is not None:
                by_error[r.error or status.value].append(r.recipient.delivery_id)
        for error, ids_ in by_error.items():
            ledger.set_status(session, ids_, status, only_if=DeliveryStatus.sending, error=error)
    back = [r.delivery_id for r in delivered.pending if r.delivery_id is not None]
    ledger.set_status(
        session,
        back,
        DeliveryStatus.pending,
        only_if=DeliveryStatus.sending,
        error=delivered.stop or "not sent",
    )


@contextmanager
def _ctrl_c_stops_after_this_batch(interrupted: threading.Event) -> Iterator[None]:
    """In the main thread, the first Ctrl-C (or SIGTERM, as a service manager sends) asks the
    send to stop once the batch in flight is recorded (no row is left "unknown" by an
    operator's pause), and ends any wait between retries; a second one interrupts at once, as
    usual. Elsewhere (a scheduler thread) signals are not ours to handle: the process's own
    handler calls :func:`~newsletter.dispatch.shutdown.request_shutdown` instead. (This
    handler does not: it stops this send only, not the process.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def first_signal(signum: int, frame: FrameType | None) -> None:
        log.warning("stopping after the batch in flight (signal again to abort now)")
        interrupted.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    for sig in previous:
        signal.signal(sig, first_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interruptible(sleep: Sleep, stopping: Callable[[], bool], wake: threading.Event) -> Sleep:
    """The default wait between retries (:func:`~newsletter.dispatch.shutdown.pause`), made
    to end as soon as this send is asked to stop; an injected ``sleep`` (tests) is kept."""
    if sleep is not pause:
        return sleep

    def wait(seconds: float) -> None:
        end = time.monotonic() + seconds
        while not stopping():
            left = end - time.monotonic()
            if left <= 0:
                return
            wake.wait(min(left, 0.25))

    return wait


SQLITE_CACHE_KIB = 16 * 1024


@contextmanager
def _larger_sqlite_cache(conn: Connection) -> Iterator[None]:
    """SQLite: a 16 MiB page cache for the send's connection (the default is 2 MiB); every
    batch rewrites 2000 entries of the delivery status index and reads a page of subscribers,
    and with the default cache those pages were read back from the OS each time. Bounded, so
    memory stays flat however large the audience; restored when the send ends."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # On the driver connection: through SQLAlchemy the PRAGMA would begin a transaction.
    driver = conn.connection.dbapi_connection
    assert driver is not None
    previous = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA cache_size={int(previous)}")


def _stopped_by_person(session: Session, bulletin_id: int) -> bool:
    """Whether a person stopped this send (``newsletter bulletin stop`` or the staff app): read
    before each claim, so the send ends after the batch in flight, on whichever host runs it."""
    status = session.scalar(select(col(Bulletin.status)).where(col(Bulletin.id) == bulletin_id))
    return status == BulletinStatus.stopped


def run_batches(
    conn: Connection,
    settings: Settings,
    *,
    bulletin: Bulletin,
    variants: Sequence[Variant],
    summary: SendSummary,
    transport: Transport,
    clock: Clock,
    sleep: Sleep,
    policy: RetryPolicy,
    progress: Progress | None,
) -> None:
    """Send every pending row of ``bulletin``, or stop early (``summary.stopped`` says why)."""
    assert bulletin.id is not None
    size = max(1, min(settings.batch_size, transport.max_batch))
    pages = _Pages(
        conn, settings, bulletin=bulletin, variants=variants, size=size, transport=transport
    )
    with transaction(conn) as session:
        batch_no = ledger.last_batch_number(session, bulletin.id)
    failed_batches = 0
    page = pages.next()
    previous: tuple[Delivered, int] | None = None
    interrupted = threading.Event()

    def stopping() -> bool:
        return interrupted.is_set() or shutdown_requested()

    waiting = _interruptible(sleep, stopping, interrupted)
    with (
        _ctrl_c_stops_after_this_batch(interrupted),
        _larger_sqlite_cache(conn),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-send") as worker,
    ):
        while True:
            left: list[int] = []
            with transaction(conn) as session:
                if previous is not None:
                    _record(
                        session,
                        previous[0],
                        bulletin_id=bulletin.id,
                        batch_no=previous[1],
                        clock=clock,
                    )
                    previous = None
                if summary.stopped is None and _stopped_by_person(session, bulletin.id):
                    summary.stopped = (
                        "stopped by a person after the batch in flight was recorded; "
                        "it stays stopped until a person resumes it"
                    )
                if stopping() and summary.stopped is None:
                    who = "the operator" if interrupted.is_set() else "the process stopping"
                    summary.stopped = (
                        f"interrupted by {who} after the batch in flight was recorded; "
                        f"run `newsletter bulletin send {bulletin.month}` to resume"
                    )
                if page is None or summary.stopped is not None:
                    break
                if page.batch.recipients:
                    batch_no += 1
                left = _claim(session, page, bulletin_id=bulletin.id, batch_no=batch_no)
            # Committed: from here on a crash leaves this batch "sending", never "pending".
            if progress is not None and (page.gone or left):
                progress.advance(len(page.gone) + len(left))
            batch = page.batch
            if left:
                gone = set(left)
                batch = messages.replace_recipients(
                    batch, [r for r in batch.recipients if r.delivery_id not in gone]
                )
            if not batch.recipients:
                page = pages.next()
                continue
            future = worker.submit(
                deliver,
                transport,
                batch,
                policy=policy,
                clock=clock,
                sleep=waiting,
                stopping=stopping,
            )
            variant = page.variant
            page = pages.next()  # overlaps with the transport's network wait
            delivered = future.result()
            previous = (delivered, batch_no)
            summary.batches += 1
            summary.sent_now += len(delivered.sent)
            if progress is not None:
                progress.advance(len(batch.recipients))
            if delivered.batch_error is not None:
                failed_batches += 1
                message = f"batch {batch_no} ({variant.agency}): {delivered.batch_error}"
                log.error("%s", message, extra={"batch": batch_no})
                if len(summary.errors) < 20:
                    summary.errors.append(message)
                if progress is not None:
                    progress.note(message)
                if failed_batches >= settings.send_error_threshold:
                    summary.stopped = (
                        f"paused after {failed_batches} failed batches "
                        f"(NEWSLETTER_SEND_ERROR_THRESHOLD={settings.send_error_threshold}); "
                        f"fix the cause, then run `newsletter bulletin send {bulletin.month}` "
                        "to resume"
                    )
            if delivered.stop is not None:
                summary.stopped = (
                    f"{delivered.stop}; nothing more was sent. Fix the cause, then run "
                    f"`newsletter bulletin send {bulletin.month}` to resume"
                )
