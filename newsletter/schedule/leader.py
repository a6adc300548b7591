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

import logging
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.locks import (
    AdvisoryLock,
    FileLock,
    advisory_lock_held,
    file_lock_held,
    lock_file_beside,
)

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


FileLeadership = FileLock
"""Leadership by an exclusive ``flock`` (SQLite): :class:`newsletter.locks.FileLock`."""


class PostgresLeadership:
    """``pg_try_advisory_lock(ADVISORY_KEY)`` on a connection of its own (in autocommit, so it
    never sits idle in a transaction)."""

    def __init__(self, url: str, *, key: int = ADVISORY_KEY) -> None:
        self.url = url
        self.key = key
        self.description = f"PostgreSQL advisory lock {key}"
        self._engine: Engine | None = None
        self._lock: AdvisoryLock | None = None

    def try_acquire(self) -> bool:
        if self._lock is not None and self._lock.still_held():
            return True
        self.release()
        self._engine = make_engine(self.url, poolclass=NullPool)
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        lock = AdvisoryLock(conn, self.key)
        if not lock.try_acquire():
            conn.close()
            return False
        self._lock = lock
        return True

    def still_held(self) -> bool:
        return self._lock is not None and self._lock.still_held()

    def release(self) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.release()
            lock.conn.close()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def abandon(self) -> None:
        """Let go as a crashed process does: the connection drops, nothing is unlocked by hand."""
        if self._lock is not None:
            self._lock.conn.invalidate()  # closes the DBAPI connection; the server frees the lock


def leadership_for(settings: Settings) -> Leadership:
    """The right lock for the configured database."""
    url = settings.resolved_database_url
    backend = make_url(url).get_backend_name()
    if backend == "postgresql":
        return PostgresLeadership(url)
    if backend == "sqlite":
        return FileLock(lock_file_beside(url, "scheduler.lock", fallback_dir=settings.data_dir))
    raise NotImplementedError(f"no scheduler leadership for {backend}")


def leader_present(settings: Settings) -> bool:
    """Whether some scheduler process holds the leadership lock now (for monitoring)."""
    leadership = leadership_for(settings)
    if isinstance(leadership, PostgresLeadership):
        engine = make_engine(leadership.url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return advisory_lock_held(conn, leadership.key)
        finally:
            engine.dispose()
    assert isinstance(leadership, FileLock)
    return file_lock_held(leadership.path)
