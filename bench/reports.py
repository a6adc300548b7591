"""bench/reports: `report training` (cold, warm, one bulletin changed) against a raw scan of
the events table, at two sizes.

Generated data on a SQLite file: 24 bulletins, 20,000 subscribers (480,000 deliveries), eight
links a bulletin, and K events per delivery (opens, clicks, feedback, unsubscribes, bounces;
~15% flagged as machine, ~1.5% anonymous). The default run uses K=4 (1.9M events) and K=1;
``--full`` uses K=20 (9.6M events) and K=5. Events are generated inside SQLite by one
INSERT ... SELECT per size (a deterministic hash of delivery and k picks type, link and flags),
with the event indexes dropped during the load and rebuilt after, as a bulk load would.

The report reads a per-bulletin cache of aggregated events (newsletter.reports.cache) that
is recomputed only for bulletins whose events changed. The bulk load notes its change the way
every writer of events must (a bump of bulletin_events_version). Prints, per size: the raw
``SELECT count(*) FROM event`` time (the baseline), then the 24-month training report cold
(every bulletin changed: everything recomputed), warm (nothing changed), with one bulletin
changed (one click recorded through the writer), the one-month report warm, and the board's
view of 2026 (which also reads 2025 for the comparison) warm, each with its ratio to the
baseline; then how the report's time grew against the number of events (linear
growth gives a ratio near 1; the warm report does not grow with events at all).

    python -m bench reports            # default, a few minutes at most
    python -m bench.reports --full     # ~10M events
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bench import agency_slugs
from newsletter.db import make_engine, migrate, session_scope
from newsletter.eventlog import add_event, note_changed
from newsletter.models import Delivery, Event, EventSource, EventType, utcnow
from newsletter.reports.board import build_board_report
from newsletter.reports.formats import training_text
from newsletter.reports.terminal import board_table
from newsletter.reports.training import build_training_report

BULLETINS = 24
SUBSCRIBERS = 20_000
LINKS = 8
AGENCIES = agency_slugs()
NOW = "2026-11-01 00:00:00.000000"


def _load_base(db: sqlite3.Connection) -> None:
    """Agencies, subscribers, bulletins, variants, links and deliveries (executemany)."""
    db.executemany(
        "INSERT INTO agency (slug, name, domains, position) VALUES (?, ?, '[]', ?)",
        [(a, a.replace("-", " ").title(), i) for i, a in enumerate(AGENCIES)],
    )
    db.executemany(
        "INSERT INTO subscriber (id, email, address_hash, name, agency, serves_children,"
        " serves_adults, status, token, source, lawful_basis, consent_source, consent_wording,"
        " created_at, updated_at)"
        " VALUES (?, ?, NULL, '', ?, 1, 0, 'active', ?, 'import', 'public_task', 'bench', '',"
        " ?, ?)",
        (
            (i, f"p{i}@example.org", AGENCIES[i % len(AGENCIES)], f"t{i}", NOW, NOW)
            for i in range(1, SUBSCRIBERS + 1)
        ),
    )
    for b in range(1, BULLETINS + 1):
        month = f"{2025 + (b - 1) // 12}-{(b - 1) % 12 + 1:02d}"
        db.execute(
            "INSERT INTO bulletin (id, month, theme, subject, preheader, for_children, for_adults,"
            " status, plan_hash, schedule_paused, checks_passed, checks, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, '', 1, 0, 'sent', '', 0, 1, '[]', ?, ?)",
            (b, month, f"Theme {b}", f"Bulletin {b}", NOW, NOW),
        )
        db.executemany(
            "INSERT INTO variant (bulletin_id, agency, subject, html, text, html_bytes,"
            " link_count) VALUES (?, ?, '', '', '', 0, 8)",
            [(b, a) for a in AGENCIES],
        )
        kinds = ["course"] * 5 + ["briefing", "resource", "feedback"]
        db.executemany(
            "INSERT INTO link (id, bulletin_id, position, section, kind, catalogue_id, title, url)"
            " VALUES (?, ?, ?, 'Training', ?, ?, ?, ?)",
            [
                (
                    (b - 1) * LINKS + p,
                    b,
                    p,
                    kinds[p - 1],
                    f"course-{(b * 3 + p) % 12}" if p <= 5 else None,
                    f"Course {(b * 3 + p) % 12}" if p <= 5 else f"Link {p}",
                    f"https://learning.example.org/{b}/{p}",
                )
                for p in range(1, LINKS + 1)
            ],
        )
    variant = {(b, a): v for v, b, a in db.execute("SELECT id, bulletin_id, agency FROM variant")}
    db.executemany(
        "INSERT INTO delivery (bulletin_id, subscriber_id, agency, variant_id, status, attempts,"
        " created_at, sent_at) VALUES (?, ?, ?, ?, 'sent', 1, ?, ?)",
        (
            (b, s, AGENCIES[s % len(AGENCIES)], variant[(b, AGENCIES[s % len(AGENCIES)])], NOW, NOW)
            for b in range(1, BULLETINS + 1)
            for s in range(1, SUBSCRIBERS + 1)
        ),
    )
    db.commit()


# One row per (delivery, k) for k in [k0, k1]; h and g are deterministic hashes that pick the
# event's type, link, machine flag and whether it is anonymous.
_EVENTS = """
WITH RECURSIVE n(k) AS (SELECT :k0 UNION ALL SELECT k + 1 FROM n WHERE k < :k1),
g AS (
  SELECT d.id AS delivery, d.bulletin_id AS bulletin, d.agency AS agency,
         (((d.id * 7919 + n.k * 104729) % 1000003) * 2654435761) % 4294967291 AS h
  FROM delivery d, n
),
x AS (SELECT delivery, bulletin, agency, h % 1000 AS t, (h / 1000) % 100000 AS g FROM g)
INSERT INTO event (delivery_id, bulletin_id, agency, link_id, type, occurred_at, recorded_at,
                   source, machine, machine_reason, rules_version)
SELECT CASE WHEN g % 1000 >= 985 THEN NULL ELSE delivery END,
       bulletin, agency,
       CASE WHEN t >= 400 AND t < 910 THEN (bulletin - 1) * 8 + 1 + (g / 7) % 8 END,
       CASE WHEN t < 400 THEN 'open' WHEN t < 880 THEN 'click' WHEN t < 900 THEN 'feedback_yes'
            WHEN t < 910 THEN 'feedback_no' WHEN t < 915 THEN 'unsubscribe'
            WHEN t < 918 THEN 'bounce' ELSE 'delivered' END,
       :now, :now, 'web',
       CASE WHEN g % 100 < 15 THEN 1 ELSE 0 END,
       CASE WHEN g % 100 < 15 THEN (CASE WHEN t < 400 THEN 'apple-mpp' ELSE 'scanner' END) END,
       CASE WHEN g % 100 < 15 THEN 'v1' END
FROM x
"""


def _add_events(db: sqlite3.Connection, k0: int, k1: int) -> float:
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event'"
        " AND sql IS NOT NULL"
    ).fetchall()
    started = time.perf_counter()
    for name, _sql in indexes:
        db.execute(f'DROP INDEX "{name}"')
    db.execute(_EVENTS, {"k0": k0, "k1": k1, "now": NOW})
    for _name, sql in indexes:
        db.execute(sql)
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    return time.perf_counter() - started


def _best(fn: Callable[[], object], runs: int, before: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


COUNT_ALL = "SELECT count(*) FROM event"
# A scan that has to read a value from every event (count(*) only walks the smallest index).
READ_ALL = "SELECT sum(machine) FROM event"


@dataclass(frozen=True)
class Timing:
    events: int
    count_all: float
    read_all: float
    cold: float
    warm: float
    one_changed: float
    one_month: float
    board: float


def _all_changed(engine: Engine) -> None:
    """What a bulk load of every bulletin's events does besides inserting them."""
    with session_scope(engine) as session:
        note_changed(session, range(1, BULLETINS + 1))


def _one_click(engine: Engine) -> None:
    """Record one more click on June 2026's bulletin, as the tracking recorder does."""
    with session_scope(engine) as session:
        # One delivery (limit 1): loading all 20,000 as objects would leave the next, measured,
        # report a full garbage collection to pay for (~50-100 ms), which no click causes.
        delivery = session.exec(
            select(Delivery).where(col(Delivery.bulletin_id) == 18).limit(1)
        ).first()
        assert delivery is not None
        add_event(
            session,
            Event(
                delivery_id=delivery.id,
                bulletin_id=delivery.bulletin_id,
                agency=delivery.agency,
                link_id=(18 - 1) * LINKS + 1,
                type=EventType.click,
                occurred_at=utcnow(),
                recorded_at=utcnow(),
                source=EventSource.web,
            ),
        )


def _measure(url: str, runs: int) -> Timing:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            raw_conn = conn.connection.dbapi_connection
            assert raw_conn is not None
            events = raw_conn.execute(COUNT_ALL).fetchone()[0]
            count_all = _best(lambda: raw_conn.execute(COUNT_ALL).fetchone(), runs + 1)
            read_all = _best(lambda: raw_conn.execute(READ_ALL).fetchone(), runs + 1)

        def report(month: str | None) -> Callable[[], object]:
            def run() -> object:
                with Session(engine) as session:
                    r = build_training_report(session, month_from=month, month_to=month)
                    return training_text(r, fmt="csv", min_count=5)

            return run

        _all_changed(engine)
        cold_text = report(None)()  # also warms the OS page cache as the raw scans were
        if report(None)() != cold_text:
            raise SystemExit("the warm report differs from the cold one")
        _all_changed(engine)
        cold = _best(report(None), runs, before=lambda: _all_changed(engine))
        warm = _best(report(None), runs)
        one_changed = _best(report(None), runs, before=lambda: _one_click(engine))
        one = _best(report("2026-06"), runs)

        def board() -> object:
            # The board's view: the period and the one before it, as the terminal table.
            with Session(engine) as session:
                b = build_board_report(session, month_from="2026-01", month_to="2026-12")
                return board_table(b, min_count=5)

        board_time = _best(board, runs)
    finally:
        engine.dispose()
    return Timing(events, count_all, read_all, cold, warm, one_changed, one, board_time)


def _line(label: str, seconds: float, baseline: float | None = None) -> str:
    ratio = f"{seconds / baseline:7.2f}x count(*)" if baseline else "  (baseline)"
    return f"  {label:<46} {seconds * 1000:9.1f} ms {ratio}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reports")
    parser.add_argument("--full", action="store_true", help="~10M events (K=20) instead of ~2M")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per measure (best kept)")
    args = parser.parse_args(argv if argv is not None else [])
    k_full = 20 if args.full else 4
    k_quarter = k_full // 4
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        migrate(url)
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        started = time.perf_counter()
        _load_base(db)
        print(
            f"base data: {BULLETINS} bulletins, {SUBSCRIBERS:,} subscribers, "
            f"{BULLETINS * SUBSCRIBERS:,} deliveries in {time.perf_counter() - started:.1f}s",
            flush=True,
        )
        results: list[Timing] = []
        for k0, k1 in ((1, k_quarter), (k_quarter + 1, k_full)):
            load = _add_events(db, k0, k1)
            t = _measure(url, args.runs)
            results.append(t)
            print(f"\n{t.events:,} events (K={k1}; load + index {load:.1f}s)")
            print(_line("raw count(*) over event", t.count_all))
            print(_line("raw sum(machine) over event (reads rows)", t.read_all, t.count_all))
            print("  (cold and warm 24-month reports checked identical)")
            print(_line("report training, 24 months, cold (csv)", t.cold, t.count_all))
            print(_line("report training, 24 months, warm (csv)", t.warm, t.count_all))
            print(
                _line("report training, 24 months, one changed (csv)", t.one_changed, t.count_all)
            )
            print(_line("report training, one month, warm (csv)", t.one_month, t.count_all))
            print(_line("board table, 12 months + 12 before, warm", t.board, t.count_all))
            print(
                f"  cold 24-month report / sum(machine) scan: {t.cold / t.read_all:.1f}x",
                flush=True,
            )
        db.close()
        small, big = results
        events = big.events / small.events
        print(f"\ngrowth: events x{events:.2f} (time growth / event growth; 1.0 = linear)")
        for label, a, b in (
            ("cold", small.cold, big.cold),
            ("warm", small.warm, big.warm),
            ("one changed", small.one_changed, big.one_changed),
            ("raw count(*)", small.count_all, big.count_all),
        ):
            print(f"  {label:<14} time x{b / a:.2f} -> {(b / a) / events:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
