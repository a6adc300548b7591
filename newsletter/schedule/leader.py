"""One scheduler acts at a time: leadership by a lock the operating system or database drops
when its holder dies.

* PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a dedicated connection (in
  autocommit, so it never sits idle in a transaction). The server releases it when that
  connection ends, however the process ended.
* SQLite: an exclusive ``flock`` on a file beside the database file (the database's own lock
  cannot be held for hours). The kernel releases it when the process ends.

A standby calls :meth:`Leadership.try_acquire` until it succeeds; a leader checks
:meth:`Leadership.still_held` before acting, and stands down when it has lost the lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from newsletter.config import Settings
from newsletter.db import make_engine

log = logging.getLogger(__name__)

# The advisory lock's key: the bytes of "newslett" as a (positive) 64-bit integer. Advisory
# locks are per database, so services sharing one PostgreSQL server do not collide.
ADVISORY_KEY = int.from_bytes(b"newslett", "big")


class Leadership(Protocol):
    description: str

    def try_acquire(self) -> bool:
        """Take the lock if free (never waits); True if this object now holds it."""
        ...

    def still_held(self) -> bool:
        """True while this object holds the lock (checked against the database/kernel)."""
        ...

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        ...


class FileLeadership:
    """An exclusive ``flock`` on ``path``: per open file, so it also excludes within a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
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
        os.write(fd, f"{os.getpid()}\n".encode())  # for people: who leads
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def abandon(self) -> None:
        """Let go as a crashed process does: the file closes, nothing is unlocked by hand."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


class PostgresLeadership:
    """``pg_try_advisory_lock(ADVISORY_KEY)`` on a connection of its own."""

    def __init__(self, url: str, *, key: int = ADVISORY_KEY) -> None:
        self.url = url
        self.key = key
        self.description = f"PostgreSQL advisory lock {key}"
        self._engine: Engine | None = None
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None and self.still_held():
            return True
        self.release()
        self._engine = make_engine(self.url, poolclass=NullPool)
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid = pg_backend_pid() "
                    "AND (classid::bigint << 32) | objid::bigint = :k"
                ),
                {"k": self.key},
            ).scalar()
        except Exception:
            log.warning("the leadership connection failed; leadership lost", exc_info=True)
            return False
        return bool(held)

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except Exception:  # the connection is gone; so is the lock
                log.debug("unlock on a dead connection", exc_info=True)
            conn.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def abandon(self) -> None:
        """Let go as a crashed process does: the connection drops, nothing is unlocked by hand."""
        if self._conn is not None:
            self._conn.invalidate()  # closes the DBAPI connection; the server frees the lock


def leadership_for(settings: Settings) -> Leadership:
    """The right lock for the configured database."""
    url = settings.resolved_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresLeadership(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            # Beside the database file: every process using this file agrees on the lock.
            return FileLeadership(Path(db).resolve().with_name(Path(db).name + ".scheduler.lock"))
        return FileLeadership(settings.data_dir.resolve() / "scheduler.lock")
    raise NotImplementedError(f"no scheduler leadership for {parsed.get_backend_name()}")


def leader_present(settings: Settings) -> bool:
    """Whether some scheduler process holds the leadership lock now (for monitoring)."""
    url = settings.resolved_database_url
    leadership = leadership_for(settings)
    if isinstance(leadership, PostgresLeadership):
        engine = make_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                held = conn.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND (classid::bigint << 32) | objid::bigint = :k "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"k": leadership.key},
                ).scalar()
        finally:
            engine.dispose()
        return bool(held)
    assert isinstance(leadership, FileLeadership)
    if not leadership.path.exists():
        return False
    # A shared lock is refused while the leader holds its exclusive one; taking it for an
    # instant never stops a standby for longer than one of its tries.
    fd = os.open(leadership.path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
