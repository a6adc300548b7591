"""One sender per bulletin at a time.

The ledger's guarded updates stop two senders from *claiming* the same row, but a second
sender starting while the first is mid-batch would take the first one's in-flight rows for a
crashed run's. So a send holds a lock for its whole run: a PostgreSQL session advisory lock on
the send's own connection (released if the process dies), or, on SQLite, an ``flock`` on a
file beside the database (SQLite's processes are all on one host; the kernel drops the lock
when the process dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from newsletter.dispatch.summary import SendInProgress

log = logging.getLogger(__name__)

_NAMESPACE = 0x4E4C0000  # "NL": keeps our advisory lock ids apart from anyone else's


@contextmanager
def send_lock(conn: Connection, *, bulletin_id: int, month: str) -> Iterator[None]:
    """Hold the send lock of ``bulletin_id``; DispatchError if another process holds it."""
    busy = SendInProgress(f"another process is sending {month} right now; nothing was changed")
    if conn.dialect.name == "postgresql":
        key = _NAMESPACE + bulletin_id
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            raise busy
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except SQLAlchemyError:
                # A broken connection has dropped the lock with it; don't hide the real error.
                log.warning("could not release the send lock of %s explicitly", month)
        return
    database = conn.engine.url.database
    if not database or database == ":memory:":
        yield  # a private in-memory database has a single process by definition
        return
    fd = os.open(f"{database}.send-{bulletin_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)  # closing releases the flock


def sender_alive(engine: Engine, *, bulletin_id: int) -> bool:
    """Whether some process holds the send lock of ``bulletin_id`` now (a send is running).

    A bulletin left ``sending`` with nobody holding its lock was being sent by a process that
    died: the lock went with its database session (or its file descriptor). Probing never
    blocks and never keeps the lock, so it cannot hold up a sender starting at that moment.
    """
    if engine.dialect.name == "postgresql":
        key = _NAMESPACE + bulletin_id
        with engine.connect() as conn:
            held = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND (classid::bigint << 32) | objid::bigint = :k AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"k": key},
            ).scalar()
        return bool(held)
    database = engine.url.database
    if not database or database == ":memory:":
        return False
    path = f"{database}.send-{bulletin_id}.lock"
    if not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # refused while a sender holds it
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
