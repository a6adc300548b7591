"""Group commit for tracking events: many requests, one transaction every few milliseconds.

A request awaits :meth:`Recorder.record_async` (coroutines) or waits on the future of
:meth:`Recorder.submit` (threads). On the event loop, the records of a ``max_delay`` window
(default 2 ms) travel to the writer together. One writer thread takes whatever has queued up
(at most ``max_batch`` records: whatever arrived while the previous batch was committing), writes
it in ONE transaction, commits, and only then acknowledges, waking the loop once per batch. So
an answered request's event is durable, yet no request waits for a disk sync of its own: under
load one commit serves hundreds of requests.

Contract:

* Handing over never blocks on the database; the wait ends with None once committed, or with
  the exception that prevented it (a batch that fails is retried record by record, so one bad
  record cannot take its neighbours down with it).
* A busy database never loses an event: while the write fails because the database is locked
  (SQLite's single writer held by another process past the busy timeout; a PostgreSQL lock
  timeout, deadlock or serialisation failure) the batch is retried, with a growing pause, for
  up to ``patience`` seconds (default ten minutes); records arriving meanwhile queue behind it.
  Only after that, or once the recorder is closing and the lock is still held after
  ``close``'s timeout, is the batch given up and logged as lost. An unreachable database fails
  the batch at once, as before (the pixel is still served, the redirect still answered).
* :meth:`Recorder.close` stops accepting records, flushes everything already submitted, and
  joins the thread (the web app calls it on shutdown). A record submitted after close raises
  :class:`RecorderClosed`.
* The thread keeps one connection of its own (re-opened after an error), so a batch costs one
  ``BEGIN``/``COMMIT`` and an ``executemany``; this works the same on SQLite (whose single
  writer it suits) and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from newsletter import procmetrics
from newsletter.clock import Clock, SystemClock
from newsletter.eventlog import MachineFlag, flag_machine, insert_events
from newsletter.models import EventSource, EventType

log = logging.getLogger(__name__)


class RecorderClosed(RuntimeError):
    """The recorder has been closed: no more records are accepted."""


class StillWaiting(TimeoutError):
    """The record is not committed yet (the database is busy); it stays queued and will be."""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event row to write (the columns of :class:`newsletter.models.Event`).

    ``flag_since``: when set (with a delivery), the delivery's earlier events from that time on
    are flagged as machine activity with this record's reason, in the same transaction.
    """

    type: EventType
    occurred_at: datetime
    delivery_id: int | None = None
    bulletin_id: int | None = None
    agency: str | None = None
    link_id: int | None = None
    source: EventSource = EventSource.web
    machine: bool = False
    machine_reason: str | None = None
    rules_version: str | None = None
    seconds_since_delivery: float | None = None
    method: str | None = None
    user_agent: str | None = None
    flag_since: datetime | None = None

    def row(self, recorded_at: datetime) -> dict[str, Any]:
        # Spelled out rather than dataclasses.asdict(), which deep-copies (10x slower, hot path).
        return {
            "type": str(self.type),
            "occurred_at": self.occurred_at,
            "recorded_at": recorded_at,
            "delivery_id": self.delivery_id,
            "bulletin_id": self.bulletin_id,
            "agency": self.agency,
            "link_id": self.link_id,
            "source": str(self.source),
            "machine": self.machine,
            "machine_reason": self.machine_reason,
            "rules_version": self.rules_version,
            "seconds_since_delivery": self.seconds_since_delivery,
            "method": None if self.method is None else self.method[:10],
            "user_agent": None if self.user_agent is None else self.user_agent[:500],
            "provider_event_id": None,
            "payload": None,
        }


Done = Callable[[list[BaseException | None]], None]


@dataclass(frozen=True, slots=True)
class _Ticket:
    """Records handed to the writer together, and who to tell (one error or None per record)."""

    records: list[EventRecord]
    done: Done


class Recorder:
    """The group-commit writer of web events. The thread starts on the first record."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_delay: float = 0.002,
        max_batch: int = 1000,
        name: str = "event-recorder",
        clock: Clock | None = None,
        patience: float = 600.0,
        answer_within: float | None = None,
    ) -> None:
        self._engine = engine
        self._clock: Clock = clock or SystemClock()
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._name = name
        self._patience = patience
        self._answer_within = answer_within
        self._closing_deadline: float | None = None
        self._queue: queue.SimpleQueue[_Ticket | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: Connection | None = None
        # Event-loop side: records collected during the current max_delay window, per loop.
        self._pending: dict[
            asyncio.AbstractEventLoop, list[tuple[EventRecord, asyncio.Future[None]]]
        ] = {}
        self.batches = 0  # commits made (for tests and the benchmark)

    # --- the public side ---------------------------------------------------------------------

    def submit(self, record: EventRecord) -> Future[None]:
        """Queue ``record`` from any thread; the future resolves once it is committed."""
        future: Future[None] = Future()

        def done(errors: list[BaseException | None]) -> None:
            if errors[0] is None:
                future.set_result(None)
            else:
                future.set_exception(errors[0])

        self._put(_Ticket([record], done))
        return future

    def record(self, record: EventRecord, timeout: float | None = 30.0) -> None:
        """Submit and wait until committed; raises what prevented the commit."""
        self.submit(record).result(timeout)

    async def record_async(self, record: EventRecord) -> None:
        """Record from a coroutine: returns once committed; raises what prevented it.

        Records arriving on the loop within ``max_delay`` travel to the writer together, and
        the writer wakes the loop once per batch, not once per record. A wait longer than the
        recorder's ``answer_within`` ends with :class:`StillWaiting`; the record stays queued
        and is committed when the database lets it (nothing is lost by answering first).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            if self._max_delay > 0:
                loop.call_later(self._max_delay, self._dispatch, loop)
            else:
                loop.call_soon(self._dispatch, loop)
        pending.append((record, future))
        await future

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush everything submitted so far, then stop the thread. Idempotent."""
        with self._lock:
            if self._closed:
                thread = self._thread
            else:
                self._closed = True
                thread = self._thread
                if thread is not None:
                    self._queue.put(None)
                if timeout is not None:
                    self._closing_deadline = time.monotonic() + timeout
        if thread is not None:
            thread.join(timeout)

    # --- handing over --------------------------------------------------------------------------

    def _put(self, ticket: _Ticket) -> None:
        with self._lock:
            if self._closed:
                raise RecorderClosed("the event recorder is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            procmetrics.queued(len(ticket.records))  # before the writer can count it out
            self._queue.put(ticket)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        items = self._pending.pop(loop, [])
        futures = [future for _, future in items]
        if self._answer_within is not None:
            # One timer per window, not per request: waiters still waiting then are answered.
            loop.call_later(self._answer_within, _stop_waiting, futures)

        def done(errors: list[BaseException | None]) -> None:
            try:
                loop.call_soon_threadsafe(_resolve, futures, errors)
            except RuntimeError:  # the loop is gone (shut down): nobody is waiting any more
                log.debug("event loop closed before %d records were acknowledged", len(errors))

        try:
            self._put(_Ticket([record for record, _ in items], done))
        except RecorderClosed as exc:
            _resolve(futures, [exc] * len(futures))

    # --- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            # Group commit: whatever queued up while the previous batch was committing goes
            # into this one (up to max_batch records).
            batch = [first]
            size = len(first.records)
            while size < self._max_batch:
                try:
                    ticket = self._queue.get_nowait()
                except queue.Empty:
                    break
                if ticket is None:
                    stopping = True  # flush this batch, then drain what is left below
                    break
                batch.append(ticket)
                size += len(ticket.records)
            self._flush(batch)
        # Anything submitted before close() but queued behind the sentinel.
        rest: list[_Ticket] = []
        while True:
            try:
                ticket = self._queue.get_nowait()
            except queue.Empty:
                break
            if ticket is not None:
                rest.append(ticket)
        if rest:
            self._flush(rest)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self, batch: list[_Ticket]) -> None:
        records = [record for ticket in batch for record in ticket.records]
        errors: list[BaseException | None]
        started = time.perf_counter()
        try:
            self._write_patiently(records)
            errors = [None] * len(records)
        except IntegrityError as exc:
            if len(records) == 1:
                log.error("recording a %s event failed: %s", records[0].type, exc)
                errors = [exc]
            else:
                log.warning(
                    "a batch of %d events failed (%s); retrying one by one", len(records), exc
                )
                errors = [self._write_one(record) for record in records]
        except Exception as exc:
            # The database is unavailable, not the data wrong: retrying record by record would
            # only multiply the wait (a locked SQLite file waits its busy timeout each time).
            log.error("recording %d events failed: %s", len(records), exc)
            errors = [exc] * len(records)
        procmetrics.written(len(records), time.perf_counter() - started)
        start = 0
        for ticket in batch:
            end = start + len(ticket.records)
            try:
                ticket.done(errors[start:end])
            except Exception:  # a waiter's callback must not stop the writer
                log.exception("acknowledging recorded events failed")
            start = end

    def _write_patiently(self, records: list[EventRecord]) -> None:
        """Write, retrying while the database is busy (locked) (see the contract)."""
        started = time.monotonic()
        pause = 0.01
        attempt = 0
        while True:
            try:
                self._write(records)
                if attempt:
                    log.warning(
                        "%d events committed after %d retries (%.1f s)",
                        len(records),
                        attempt,
                        time.monotonic() - started,
                    )
                return
            except OperationalError as exc:
                if not _busy(exc):
                    raise  # unreachable or broken, not busy: waiting would not help
                attempt += 1
                deadline = started + self._patience
                if self._closing_deadline is not None:
                    deadline = min(deadline, self._closing_deadline)
                if time.monotonic() + pause > deadline:
                    log.error("%d events LOST after %d attempts: %s", len(records), attempt, exc)
                    raise
                if attempt == 1:
                    log.warning(
                        "the database is busy (%s); keeping %d events and retrying",
                        exc.orig,
                        len(records),
                    )
                time.sleep(pause)  # back off: the database is busy or away, not the data wrong
                pause = min(pause * 2, 1.0)

    def _write_one(self, record: EventRecord) -> BaseException | None:
        try:
            self._write([record])
        except Exception as exc:
            log.error("recording a %s event failed: %s", record.type, exc)
            return exc
        return None

    def _write(self, records: list[EventRecord]) -> None:
        conn = self._connection()
        now = self._clock.now()  # recorded_at
        try:
            with conn.begin():
                # Each bumps the report version of its bulletins in this transaction.
                insert_events(conn, [r.row(now) for r in records])
                # Earlier events of a delivery caught by a session rule (honeypot, burst).
                flag_machine(
                    conn,
                    [
                        MachineFlag(r.bulletin_id, r.delivery_id, r.flag_since, r.machine_reason)
                        for r in records
                        if r.flag_since is not None and r.delivery_id
                    ],
                )
        except Exception:
            self._drop_connection()
            raise
        self.batches += 1

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # the connection is already broken; nothing more to do
                log.debug("closing a broken recorder connection failed", exc_info=True)
            self._conn = None


_PG_BUSY = {"LockNotAvailable", "DeadlockDetected", "SerializationFailure"}


def _busy(exc: OperationalError) -> bool:
    """Whether the database refused the write because it is busy (worth waiting for)."""
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return type(orig).__name__ in _PG_BUSY


def _stop_waiting(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(StillWaiting("not committed yet; still queued"))


def _resolve(futures: list[asyncio.Future[None]], errors: list[BaseException | None]) -> None:
    for future, error in zip(futures, errors, strict=True):
        if future.done():  # cancelled: its request went away
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
