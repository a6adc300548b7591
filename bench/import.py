"""bench/import: the subscriber CSV import at 100,000 rows (1% bad), and an agency sync.

Prints rows per second for 100,000 rows, the time to re-import the same file (idempotent:
nothing changes; it should be no slower than the first import), and the peak of Python memory
(tracemalloc) while importing a file and one four times its size (streaming: the peak should
not grow with the file): 25,000 against 100,000 rows by default (BENCH_IMPORT_MEMORY_ROWS
sets the larger; tracemalloc slows Python down a few times, so these runs are timed apart).
Then an agency sync beside an import of the same size: one agency's list of 100,000 people is
imported, then synced from a file of 100,000 rows in which 5% of them are missing (leavers),
5% are new and 2% changed; the sync's time is printed as a ratio against that import, and its
peak memory for a list a quarter the size against the full one (flat: about 1.0x).
Runs on the embedded default (a SQLite file in a temporary directory); about 2 minutes on a
busy 2-core machine.

    python -m bench import
    BENCH_IMPORT_ROWS=20000 python -m bench import
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sqlmodel import Session

from bench import agency_slugs
from newsletter.agencies import read_agencies, sync_agencies
from newsletter.db import make_engine, migrate
from newsletter.models import utcnow
from newsletter.subscribers import ImportReport, SyncReport, import_csv, sync_csv
from newsletter.subscribers.importer import MAX_LISTED

REPO = Path(__file__).resolve().parent.parent
AGENCIES = agency_slugs()
AUDIENCES = ["children", "adults", "children;adults", ""]


def write_file(path: Path, rows: int, *, seed: int = 7) -> int:
    """A staff list of ``rows`` data rows, 1% of them bad; returns how many are bad."""
    rnd = random.Random(seed)
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("email,name,agency,audiences\r\n")
        for i in range(rows):
            agency = AGENCIES[i % len(AGENCIES)]
            email = f"person.{i}@{agency}.example.org"
            name = f'"Person {i}, {agency.title()}"'
            audiences = rnd.choice(AUDIENCES)
            if i % 100 == 99:  # 1% bad, of four kinds
                bad += 1
                kind = (i // 100) % 4
                if kind == 0:
                    email = f"person.{i}.example.org"  # no @
                elif kind == 1:
                    agency = "fire-and-rescue"  # unknown agency
                elif kind == 2:
                    email = f"PERSON.{i - 50}@{AGENCIES[(i - 50) % 9]}.example.org"  # duplicate
                else:
                    audiences = "everyone"  # bad audiences
            fh.write(f"{email},{name},{agency},{audiences}\r\n")
    return bad


def write_agency_file(path: Path, rows: int, *, synced: bool) -> None:
    """One agency's (police) list of ``rows`` people; ``synced``: the next month's version,
    with every 20th person gone (5% leavers), as many new people, and every 50th renamed."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("email,name,agency,audiences\r\n")
        for i in range(rows):
            email, name = f"officer.{i}@police.example.org", f"Officer {i}"
            if synced and i % 20 == 0:
                email, name = f"recruit.{i}@police.example.org", f"Recruit {i}"
            elif synced and i % 50 == 1:
                name = f"Officer {i} (renamed)"
            fh.write(f"{email},{name},police,children\r\n")


def run_sync(url: str, path: Path) -> tuple[SyncReport, float]:
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        report = sync_csv(engine, path, agency="police", now=utcnow(), source_name=path.name)
        return report, time.perf_counter() - started
    finally:
        engine.dispose()


def bench_sync(folder: Path, rows: int, memory_rows: int) -> None:
    before, after = folder / "police-june.csv", folder / "police-july.csv"
    write_agency_file(before, rows, synced=False)
    write_agency_file(after, rows, synced=True)
    url = fresh_database(folder, "sync.db")
    _imported, import_s = run_import(url, before)
    report, sync_s = run_sync(url, after)
    print(
        f"agency import: {import_s:6.1f} s  {rows / import_s:8,.0f} rows/s  (baseline)",
        flush=True,
    )
    print(
        f"agency sync:   {sync_s:6.1f} s  {rows / sync_s:8,.0f} rows/s  added {report.added:,}, "
        f"changed {report.updated:,}, leavers {report.leavers:,} "
        f"({report.leaver_share:.1f}%), unchanged {report.unchanged:,}"
    )
    print(f"sync / import time for {rows:,} rows: {sync_s / import_s:.2f}x")

    small_rows = memory_rows // 4
    peaks = []
    for n in (small_rows, memory_rows):
        first, second = folder / f"m{n}-june.csv", folder / f"m{n}-july.csv"
        write_agency_file(first, n, synced=False)
        write_agency_file(second, n, synced=True)
        memory_url = fresh_database(folder, f"sync-{n}.db")
        run_import(memory_url, first)
        peaks.append(peak_memory(lambda u=memory_url, f=second: run_sync(u, f)))  # type: ignore[misc]
    print(
        f"sync peak Python memory: {small_rows:,} rows {peaks[0] / 1e6:.1f} MB, "
        f"{memory_rows:,} rows {peaks[1] / 1e6:.1f} MB: {peaks[1] / peaks[0]:.2f}x for a "
        f"{memory_rows / small_rows:.0f}x bigger list (1.0 = flat)"
    )


def fresh_database(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    engine.dispose()
    return url


def run_import(url: str, path: Path) -> tuple[ImportReport, float]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            report = import_csv(session, path, now=utcnow(), consent_source="bench")
            session.commit()
            return report, time.perf_counter() - started
    finally:
        engine.dispose()


def peak_memory(action: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
    memory_rows = int(os.environ.get("BENCH_IMPORT_MEMORY_ROWS", "100000"))
    small_rows = memory_rows // 4
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        folder = Path(tmp)
        big, small, large = folder / "big.csv", folder / "small.csv", folder / "large.csv"
        bad = write_file(big, rows)
        write_file(small, small_rows)
        write_file(large, memory_rows)
        print(f"file: {rows:,} rows ({bad:,} bad), {big.stat().st_size / 1e6:.1f} MB", flush=True)

        # Speed, without tracemalloc (it slows Python allocation down several times).
        url = fresh_database(folder, "speed.db")
        first, first_s = run_import(url, big)
        again, again_s = run_import(url, big)
        print(
            f"first import:  {first_s:6.1f} s  {rows / first_s:8,.0f} rows/s  "
            f"added {first.added:,}, rejected {first.rejected:,}",
            flush=True,
        )
        print(
            f"re-import:     {again_s:6.1f} s  {rows / again_s:8,.0f} rows/s  "
            f"added {again.added}, updated {again.updated}, unchanged {again.unchanged:,}"
        )
        print(f"re-import / first import time: {again_s / first_s:.2f}x (<= 1 means no slower)")

        # Memory: peak Python allocations for a file 4x the size, each into a fresh database.
        small_url = fresh_database(folder, "small.db")
        large_url = fresh_database(folder, "large.db")
        small_peak = peak_memory(lambda: run_import(small_url, small))
        large_peak = peak_memory(lambda: run_import(large_url, large))
        print(
            f"peak Python memory: {small_rows:,} rows {small_peak / 1e6:.1f} MB, "
            f"{memory_rows:,} rows {large_peak / 1e6:.1f} MB"
        )
        print(
            f"peak memory {memory_rows:,} / {small_rows:,} rows: {large_peak / small_peak:.2f}x "
            f"for a {memory_rows / small_rows:.0f}x bigger file (1.0 = flat; what grows is "
            f"the report's list of rejected rows, capped at {MAX_LISTED:,})"
        )

        bench_sync(folder, rows, memory_rows)
