"""Short write transactions: check or stage the whole input first, then apply it in chunks.

SQLite has one writer at a time, and every click and open the web app records needs that
writer for a moment. A bulk job that wrote 100,000 rows in one transaction held the write lock
for tens of seconds, and clicks waited (or were lost) behind it. The rule for every bulk writer
(imports, syncs, roll-ups, report refreshes):

1. **Check or stage first, outside any write transaction.** Read the whole input, judge every
   line against the database with :func:`newsletter.db.read_session`, and put the rows to
   write in a :class:`Stage` (a temporary file on disk, so memory stays flat). A bad input
   still changes nothing, because nothing has been written yet.
2. **Apply in short transactions.** :func:`apply_in_chunks` writes the staged rows a chunk at a
   time, each chunk in its own transaction, and sizes the chunks so that one transaction lasts
   about ``budget`` seconds (100 ms by default): long enough to be efficient, short enough that
   a click waiting for the lock is answered quickly. On SQLite the apply then pauses for half
   as long as the chunk took: SQLite's waiters poll for the lock (every few milliseconds at
   first, then every 100 ms), so a writer that took the lock again at once could starve them.

Each chunk's statement must be safe to apply on its own and again (an upsert, or an insert
guarded by ``ON CONFLICT DO NOTHING``), so that an apply interrupted half-way can simply be run
again. A writer whose chunk depends on the database as it was checked keeps its guard in the
statement itself (for example the import's ``WHERE status = 'active'``).
"""

from __future__ import annotations

import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.db import session_scope

log = logging.getLogger(__name__)

DEFAULT_BUDGET = 0.1  # seconds a chunk's write transaction should last
FIRST_CHUNK = 100
MIN_CHUNK = 10
MAX_CHUNK = 5000

Row = dict[str, Any]
ApplyChunk = Callable[[Session, list[Row]], Any]


class Stage:
    """Rows waiting to be written, kept in a private temporary SQLite file (not the database).

    ``add`` and ``extend`` append JSON-serialisable dicts (datetimes are written as ISO text and
    come back as text unless ``decode`` turns them back); iterate with :meth:`chunks`. Use it
    as a context manager: the file is deleted on exit.
    """

    def __init__(self, *, decode: Callable[[Row], Row] | None = None) -> None:
        self._file = tempfile.NamedTemporaryFile(prefix="newsletter-stage-", suffix=".db")  # noqa: SIM115
        self._db = sqlite3.connect(self._file.name, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE staged (n INTEGER PRIMARY KEY, row BLOB NOT NULL)")
        self._db.execute("BEGIN")
        self._decode = decode
        self._count = 0

    def __enter__(self) -> Stage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return self._count

    def add(self, row: Row) -> None:
        self._count += 1
        self._db.execute(
            "INSERT INTO staged (n, row) VALUES (?, ?)", (self._count, orjson.dumps(row))
        )

    def extend(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(row)

    def chunks(self, size: int | Callable[[], int]) -> Iterator[list[Row]]:
        """The staged rows in order, ``size`` at a time (a callable is asked before each)."""
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")
        after = 0
        while True:
            limit = size() if callable(size) else size
            found = self._db.execute(
                "SELECT n, row FROM staged WHERE n > ? ORDER BY n LIMIT ?", (after, limit)
            ).fetchall()
            if not found:
                return
            after = found[-1][0]
            rows = [orjson.loads(raw) for _, raw in found]
            yield [self._decode(r) for r in rows] if self._decode else rows

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            self._file.close()


class _Sizer:
    """Chunk sizes that keep each transaction near the time budget (adapts as it goes)."""

    def __init__(self, budget: float, first: int) -> None:
        self.budget = budget
        self.size = first

    def __call__(self) -> int:
        return self.size

    def took(self, rows: int, seconds: float) -> None:
        if rows < self.size or rows == 0:
            return  # the last, short chunk says nothing about the rate
        per_row = seconds / rows
        wanted = int(self.budget * 0.8 / per_row) if per_row > 0 else MAX_CHUNK
        # Grow gently (a chunk that ran fast may have been lucky), shrink at once.
        wanted = min(wanted, self.size * 2)
        self.size = max(MIN_CHUNK, min(MAX_CHUNK, wanted))


def apply_in_chunks(
    engine: Engine,
    rows: Stage | Iterable[list[Row]],
    apply: ApplyChunk,
    *,
    budget: float = DEFAULT_BUDGET,
    first_chunk: int = FIRST_CHUNK,
) -> int:
    """Write ``rows`` with ``apply(session, chunk)``, one short transaction per chunk.

    ``rows`` is a :class:`Stage` (chunk sizes then adapt to keep each transaction near
    ``budget`` seconds) or any iterable of ready-made chunks. Returns the rows applied. An
    error stops the apply after the chunks already committed; each chunk must therefore be
    safe to apply again (see the module docstring).
    """
    sizer = _Sizer(budget, first_chunk)
    yield_lock = engine.dialect.name == "sqlite"
    chunks = rows.chunks(sizer) if isinstance(rows, Stage) else iter(rows)
    done = 0
    longest = 0.0
    for chunk in chunks:
        if not chunk:
            continue
        started = time.perf_counter()
        with session_scope(engine) as session:
            apply(session, chunk)
        took = time.perf_counter() - started
        longest = max(longest, took)
        sizer.took(len(chunk), took)
        done += len(chunk)
        if yield_lock:
            time.sleep(min(took, budget) / 2)  # let waiting writers (clicks) in; see above
    if done:
        log.info("applied %d rows in short transactions (longest %.0f ms)", done, longest * 1000)
    return done


__all__ = ["DEFAULT_BUDGET", "Stage", "apply_in_chunks"]
