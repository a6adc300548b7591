"""Group commit for tracking events: many requests, one transaction every few milliseconds.

A request hands its :class:`EventRecord` to :meth:`Recorder.submit` and waits on the returned
future. One background thread takes whatever has queued up (waiting at most ``max_delay`` for
more, never more than ``max_batch`` records), writes it in ONE transaction, commits, and only
then resolves the futures. So an answered request's event is durable, yet no request waits for
a disk sync of its own: under load one commit serves hundreds of requests.

Contract:

* ``submit`` never blocks on the database; the future resolves with None once committed, or
  with the exception that prevented it (a batch that fails is retried record by record, so one
  bad record cannot take its neighbours down with it).
* :meth:`Recorder.close` stops accepting records, flushes everything already submitted, and
  joins the thread (the web app calls it on shutdown). A record submitted after close raises
  :class:`RecorderClosed`.
* The thread keeps one connection of its own (re-opened after an error), so a batch costs one
  ``BEGIN``/``COMMIT`` and an ``executemany``; this works the same on SQLite (whose single
  writer it suits) and PostgreSQL.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, update
from sqlmodel import col

from newsletter.models import Event, EventSource, EventType, utcnow

log = logging.getLogger(__name__)

_EVENT = Event.__table__  # type: ignore[attr-defined]


class RecorderClosed(RuntimeError):
    """The recorder has been closed: no more records are accepted."""


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
        values = asdict(self)
        values.pop("flag_since")
        values["type"] = str(self.type)
        values["source"] = str(self.source)
        values["recorded_at"] = recorded_at
        values["provider_event_id"] = None
        values["payload"] = None
        if values["user_agent"] is not None:
            values["user_agent"] = values["user_agent"][:500]
        if values["method"] is not None:
            values["method"] = values["method"][:10]
        return values


_Item = tuple[EventRecord, "Future[None]"]


class Recorder:
    """The group-commit writer of web events. Start is lazy (on the first submit)."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_delay: float = 0.003,
        max_batch: int = 500,
        name: str = "event-recorder",
    ) -> None:
        self._engine = engine
        self._max_delay = max_delay
        self._max_batch = max_batch
        self._name = name
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: Connection | None = None
        self.batches = 0  # commits made (for tests and the benchmark)

    def submit(self, record: EventRecord) -> Future[None]:
        """Queue ``record``; the future resolves once it is committed (or failed)."""
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise RecorderClosed("the event recorder is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put((record, future))
        return future

    def record(self, record: EventRecord, timeout: float | None = 30.0) -> None:
        """Submit and wait until committed; raises what prevented the commit."""
        self.submit(record).result(timeout)

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
        if thread is not None:
            thread.join(timeout)

    # --- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            deadline = time.monotonic() + self._max_delay
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=remaining)
                    except queue.Empty:
                        break
                if item is None:
                    stopping = True  # flush this batch, then drain what is left below
                    break
                batch.append(item)
            self._flush(batch)
        # Anything submitted before close() but queued behind the sentinel.
        rest: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                rest.append(item)
        for start in range(0, len(rest), self._max_batch):
            self._flush(rest[start : start + self._max_batch])
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self, batch: list[_Item]) -> None:
        try:
            self._write([record for record, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                log.error("recording a %s event failed: %s", batch[0][0].type, exc)
                batch[0][1].set_exception(exc)
                return
            log.warning("a batch of %d events failed (%s); retrying one by one", len(batch), exc)
            for item in batch:
                self._flush([item])
            return
        for _, future in batch:
            future.set_result(None)

    def _write(self, records: list[EventRecord]) -> None:
        conn = self._connection()
        now = utcnow()
        try:
            with conn.begin():
                conn.execute(insert(_EVENT), [r.row(now) for r in records])
                flags = [r for r in records if r.flag_since is not None and r.delivery_id]
                if flags:
                    # Earlier events of a delivery caught by a session rule (honeypot, burst).
                    conn.execute(
                        update(_EVENT)
                        .where(
                            and_(
                                col(Event.delivery_id) == bindparam("d"),
                                col(Event.occurred_at) >= bindparam("since"),
                                col(Event.machine).is_(False),
                            )
                        )
                        .values(machine=True, machine_reason=bindparam("reason")),
                        [
                            {"d": r.delivery_id, "since": r.flag_since, "reason": r.machine_reason}
                            for r in flags
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
