"""``newsletter backup``: a consistent copy of the embedded SQLite database, taken live.

SQLite's online backup API copies the database page by page while other connections keep
reading and writing (clicks go on being recorded); the copy is a consistent snapshot. We copy
in steps of a few hundred pages so the source is never locked for long, then check the copy
(``PRAGMA integrity_check``) and count its subscribers and events, so an operator knows the
backup is usable before needing it. PostgreSQL is backed up with ``pg_dump`` instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

PAGES_PER_STEP = 256  # ~1 MB at the default page size: the source is locked only that long


class BackupError(Exception):
    """The backup could not be made; nothing usable was written."""


@dataclass(frozen=True)
class BackupResult:
    bytes: int
    subscribers: int
    events: int


def backup_sqlite(url: str, out: Path) -> BackupResult:
    """Copy the SQLite database at ``url`` to ``out`` (a new file) and check the copy."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            "this database is PostgreSQL: back it up with pg_dump (see docs/operations.md)"
        )
    source_path = parsed.database
    if not source_path or source_path == ":memory:" or not Path(source_path).exists():
        raise BackupError(f"no SQLite database at {source_path}")
    if out.exists():
        raise BackupError(f"{out} exists; choose a new file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target, pages=PAGES_PER_STEP)
            problems = target.execute("PRAGMA integrity_check").fetchall()
            if problems != [("ok",)]:
                raise BackupError(f"the copy failed its integrity check: {problems[:3]}")
            subscribers = target.execute("SELECT count(*) FROM subscriber").fetchone()[0]
            events = target.execute("SELECT count(*) FROM event").fetchone()[0]
        finally:
            target.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    partial.rename(out)
    return BackupResult(bytes=out.stat().st_size, subscribers=subscribers, events=events)
