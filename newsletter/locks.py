"""Locks that die with their holder: the one helper behind the send lock and the leader lock.

Both the dispatch lock (one sender per bulletin) and the scheduler's leadership (one scheduler
acts) need a lock that is never left behind by a crashed process, and that is tried, never
waited for:

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on one connection;
  the server releases it when that connection ends, however the process ended.
* SQLite: an exclusive ``flock`` on a file beside the database file (SQLite's processes are all
  on one host; the database's own lock cannot be held for hours); the kernel releases it when
  the process ends. ``flock`` is per open file, so it also excludes within one process.

Advisory lock keys share one PostgreSQL database with every other user of it: callers take
theirs from a namespace of their own (see the callers' constants).
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL, make_url

log = logging.getLogger(__name__)


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """Take the lock if free (never waits); True if this object now holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: who holds it
        self._fd = fd
        return True

    def still_held(self) -> bool:
        """True while this object holds the lock (the kernel keeps it until the file closes)."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def abandon(self) -> None:
        """Let go as a crashed process does: the file closes, nothing is unlocked by hand."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class AdvisoryLock:
    """A session-level PostgreSQL advisory lock ``key`` held on the connection ``conn``.

    ``conn`` may be in autocommit or not: each statement here is committed at once, so the
    connection never sits idle in a transaction because of the lock.
    """

    def __init__(self, conn: Connection, key: int) -> None:
        self.conn = conn
        self.key = key
        self.description = f"PostgreSQL advisory lock {key}"
        self._held = False

    def try_acquire(self) -> bool:
        """Take the lock if free (never waits); True if this object now holds it."""
        if self._held:
            return True
        got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        self.conn.commit()
        self._held = bool(got)
        return self._held

    def still_held(self) -> bool:
        """True while the server says this connection holds the lock (False if it is gone)."""
        if not self._held:
            return False
        try:
            held = self.conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() "
                    "AND (classid::bigint << 32) | objid::bigint = :k"
                ),
                {"k": self.key},
            ).scalar()
            self.conn.commit()
        except Exception:
            log.warning("the connection holding %s failed; lock lost", self.description)
            return False
        return bool(held)

    def release(self) -> None:
        """Give the lock up (idempotent). A broken connection has dropped it already."""
        if not self._held:
            return
        self._held = False
        try:
            self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self.conn.commit()
        except Exception:  # the connection is gone; so is the lock (don't hide the real error)
            log.warning("could not release %s explicitly", self.description)


def advisory_lock_held(conn: Connection, key: int) -> bool:
    """Whether any session holds advisory lock ``key`` in this database now (a probe for
    monitoring and take-over; it never takes the lock)."""
    held = conn.execute(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND (classid::bigint << 32) | objid::bigint = :k AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"k": key},
    ).scalar()
    return bool(held)


def file_lock_held(path: Path) -> bool:
    """Whether a process holds the exclusive ``flock`` on ``path`` now (a probe).

    Takes a shared lock for an instant, refused while the holder has its exclusive one; a
    process trying to take the lock at that very instant fails once and tries again later.
    """
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def lock_file_beside(database_url: str | URL, suffix: str, *, fallback_dir: Path) -> Path:
    """Where a SQLite database's file lock named ``suffix`` lives: beside the database file, so
    every process using that file agrees on it (``fallback_dir`` for an in-memory database)."""
    database = make_url(database_url).database
    if database and database != ":memory:":
        path = Path(database).resolve()
        return path.with_name(f"{path.name}.{suffix}")
    return fallback_dir.resolve() / suffix
