"""One sender per bulletin at a time.

The ledger's guarded updates stop two senders from *claiming* the same row, but a second
sender starting while the first is mid-batch would take the first one's in-flight rows for a
crashed run's. So a send holds a lock for its whole run: a PostgreSQL session advisory lock on
the send's own connection (released if the process dies), or, on SQLite, an ``flock`` on a
file beside the database (SQLite's processes are all on one host; the kernel drops the lock
when the process dies).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from newsletter.dispatch.summary import SendInProgress
from newsletter.locks import (
    AdvisoryLock,
    FileLock,
    advisory_lock_held,
    file_lock_held,
    lock_file_beside,
)

log = logging.getLogger(__name__)

_NAMESPACE = 0x4E4C0000  # "NL": keeps our advisory lock ids apart from anyone else's


@contextmanager
def send_lock(conn: Connection, *, bulletin_id: int, month: str) -> Iterator[None]:
    """Hold the send lock of ``bulletin_id``; SendInProgress if another process holds it."""
    lock: AdvisoryLock | FileLock
    if conn.dialect.name == "postgresql":
        lock = AdvisoryLock(conn, _NAMESPACE + bulletin_id)
    else:
        database = conn.engine.url.database
        if not database or database == ":memory:":
            yield  # a private in-memory database has a single process by definition
            return
        lock = FileLock(
            lock_file_beside(conn.engine.url, f"send-{bulletin_id}.lock", fallback_dir=Path("."))
        )
    if not lock.try_acquire():
        raise SendInProgress(f"another process is sending {month} right now; nothing was changed")
    try:
        yield
    finally:
        lock.release()


def sender_alive(engine: Engine, *, bulletin_id: int) -> bool:
    """Whether some process holds the send lock of ``bulletin_id`` now (a send is running).

    A bulletin left ``sending`` with nobody holding its lock was being sent by a process that
    died: the lock went with its database session (or its file descriptor). Probing never
    blocks and never keeps the lock.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return advisory_lock_held(conn, _NAMESPACE + bulletin_id)
    database = engine.url.database
    if not database or database == ":memory:":
        return False
    return file_lock_held(
        lock_file_beside(engine.url, f"send-{bulletin_id}.lock", fallback_dir=Path("."))
    )
