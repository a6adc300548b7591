"""The group-commit recorder: nothing lost under concurrency, flushed on shutdown, isolated failures."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Event, EventType
from newsletter.tracking import EventRecord, Recorder, RecorderClosed, StillWaiting, Tracker
from newsletter.web.app import create_app
from tests.tracking.test_web import BROWSER, sent_bulletin


def count_events(engine: Engine, **where: Any) -> int:
    with Session(engine) as s:
        query = select(func.count()).select_from(Event)
        for name, value in where.items():
            query = query.where(getattr(Event, name) == value)
        return s.exec(query).one()


def record(clock: FakeClock, **overrides: Any) -> EventRecord:
    values: dict[str, Any] = {"type": EventType.click, "occurred_at": clock.now(), "agency": "x"}
    values.update(overrides)
    return EventRecord(**values)


def test_concurrent_requests_lose_nothing_and_share_commits(
    engine: Engine, clock: FakeClock
) -> None:
    recorder = Recorder(engine, max_delay=0.005)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(40):
                recorder.record(record(clock, agency=f"w{n}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.close()
    assert errors == []
    assert count_events(engine) == 16 * 40
    # Every record() waited for its commit, and commits were shared between requests.
    assert recorder.batches < 16 * 40


def test_close_flushes_everything_already_submitted(engine: Engine, clock: FakeClock) -> None:
    recorder = Recorder(engine, max_delay=0.05, max_batch=64)
    futures = [recorder.submit(record(clock, agency=f"a{i}")) for i in range(300)]
    recorder.close()
    assert all(f.done() and f.exception() is None for f in futures)
    assert count_events(engine) == 300
    with pytest.raises(RecorderClosed):
        recorder.submit(record(clock))


def test_a_bad_record_fails_alone_and_its_batch_neighbours_are_committed(
    engine: Engine, clock: FakeClock
) -> None:
    recorder = Recorder(engine, max_delay=0.2)
    futures: list[Future[None]] = [
        recorder.submit(record(clock, agency="good-1")),
        recorder.submit(record(clock, agency="bad", link_id=987654)),  # no such link
        recorder.submit(record(clock, agency="good-2")),
    ]
    recorder.close()
    assert futures[0].exception() is None
    assert futures[1].exception() is not None
    assert futures[2].exception() is None
    assert count_events(engine) == 2


def test_the_app_flushes_pending_events_on_shutdown(
    settings: Settings, engine: Engine, clock: FakeClock
) -> None:
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        tracker = app.state.tracker = Tracker(settings, engine)
        pending = [tracker.recorder.submit(record(clock, agency=f"p{i}")) for i in range(3000)]
        assert not pending[-1].done()  # thousands queued: the app stops with work pending
    assert all(f.done() and f.exception() is None for f in pending)
    assert count_events(engine) == 3000


def test_coroutines_wait_for_their_shared_commit(engine: Engine, clock: FakeClock) -> None:
    recorder = Recorder(engine, max_delay=0.01)

    async def many() -> None:
        await asyncio.gather(*(recorder.record_async(record(clock)) for _ in range(200)))

    asyncio.run(many())
    assert count_events(engine) == 200  # every record_async returned after its commit
    assert recorder.batches <= 3
    recorder.close()


def test_a_coroutine_sees_the_error_that_kept_its_record_out(
    engine: Engine, clock: FakeClock
) -> None:
    recorder = Recorder(engine)

    async def one_bad() -> list[BaseException | None]:
        results = await asyncio.gather(
            recorder.record_async(record(clock)),
            recorder.record_async(record(clock, link_id=987654)),
            return_exceptions=True,
        )
        return list(results)

    good, bad = asyncio.run(one_bad())
    assert good is None
    assert isinstance(bad, Exception)
    assert count_events(engine) == 1
    recorder.close()


def test_a_repeat_click_costs_no_query_beyond_the_shared_commit(
    settings: Settings,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    request: pytest.FixtureRequest,
) -> None:
    sent = sent_bulletin(session, clock, settings.secret)
    app = create_app(settings, engine=engine, clock=clock)
    statements: list[str] = []

    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()[:3]).upper())

    # Every engine: lookups may use a read engine of their own.
    event.listen(Engine, "before_cursor_execute", _seen)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", _seen))

    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        assert client.get(f"/c/{sent.token}/{sent.course.id}").status_code == 302
        assert any(s.startswith("SELECT") for s in statements)  # loads link and delivery
        statements.clear()
        clock.advance(timedelta(minutes=5))
        assert client.get(f"/c/{sent.token}/{sent.course.id}").status_code == 302
        assert client.get(f"/o/{sent.token}.gif").status_code == 200
    assert not any(s.startswith("SELECT") for s in statements)
    assert statements.count("INSERT INTO EVENT") == 2
    # and, in each commit, the bump of the bulletin's events version (the report cache)
    assert statements.count("INSERT INTO BULLETIN_EVENTS_VERSION") == 2
    assert count_events(engine, type="click") == 2


def test_concurrent_clicks_over_http_are_all_recorded(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    import httpx

    sent = sent_bulletin(session, clock, settings.secret)
    app = create_app(settings, engine=engine, clock=clock)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            responses = await asyncio.gather(
                *(
                    client.get(f"/c/{sent.token}/{sent.course.id}", headers={"User-Agent": BROWSER})
                    for _ in range(300)
                )
            )
        return [r.status_code for r in responses]

    assert asyncio.run(burst()) == [302] * 300
    # Every answered click was committed before its answer: nothing to flush, nothing lost.
    assert count_events(engine, type="click") == 300
    assert app.state.tracker.recorder.batches < 300
    app.state.tracker.close()


def test_the_bulk_insert_stores_exactly_what_sqlalchemy_would(
    engine: Engine, clock: FakeClock
) -> None:
    """SQLite: multi-row INSERTs; PostgreSQL: COPY (newsletter.eventlog.insert_events)."""
    from datetime import timezone

    from sqlalchemy import insert, text

    from newsletter.eventlog import insert_events

    paris = timezone(timedelta(hours=2))
    full = record(
        clock,
        occurred_at=datetime(2026, 7, 1, 10, 0, 0, 123456, tzinfo=paris),
        agency="health",
        machine=True,
        machine_reason="burst",
        rules_version="2026-11-1",
        seconds_since_delivery=1.5,
        method="GET",
        user_agent="Mozilla/5.0 (é ü 🙂)",
    )
    now = datetime(2026, 7, 1, 8, 0, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(Event.__table__), [full.row(now), record(clock).row(now)])  # type: ignore[attr-defined]
        insert_events(conn, [full.row(now), record(clock).row(now)])
        stored = conn.execute(text("SELECT * FROM event ORDER BY id")).all()
    by_sqlalchemy, by_us = [row[1:] for row in stored[:2]], [row[1:] for row in stored[2:]]
    assert by_us == by_sqlalchemy
    with Session(engine) as s:
        events = s.exec(select(Event).order_by(Event.id)).all()  # type: ignore[arg-type]
    assert events[2].occurred_at == full.occurred_at
    assert events[2].user_agent == full.user_agent
    assert events[3].payload is None


class _Said(logging.Handler):
    """Sets ``event`` when a log message containing ``words`` is emitted."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.event = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # SQLite's single writer
def test_a_click_waiting_longer_than_the_busy_timeout_is_kept_and_committed_later(
    engine: Engine, clock: FakeClock
) -> None:
    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=20")  # give up on the lock quickly

    said = _Said("the database is busy")
    logger = logging.getLogger("newsletter.tracking.recorder")
    logger.addHandler(said)
    recorder = Recorder(engine, max_delay=0)
    blocker = engine.connect()
    try:
        blocker.exec_driver_sql("UPDATE agency SET name = name")  # BEGIN IMMEDIATE: lock held
        future = recorder.submit(record(clock, agency="waited"))
        assert said.event.wait(30), "the recorder never met the locked database"
        assert not future.done()  # neither committed nor given up while the lock is held
        blocker.commit()
        future.result(timeout=30)
    finally:
        blocker.close()
        logger.removeHandler(said)
        recorder.close()
    assert count_events(engine, agency="waited") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_record_is_given_up_only_after_the_recorders_patience(
    engine: Engine, clock: FakeClock
) -> None:
    @event.listens_for(engine, "connect")
    def _short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=10")

    recorder = Recorder(engine, max_delay=0, patience=0.2)
    blocker = engine.connect()
    try:
        blocker.exec_driver_sql("UPDATE agency SET name = name")
        future = recorder.submit(record(clock))
        with pytest.raises(OperationalError):
            future.result(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()
        recorder.close()
    assert count_events(engine) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_reader_kept_waiting_is_answered_and_the_click_is_committed_afterwards(
    engine: Engine, clock: FakeClock
) -> None:
    recorder = Recorder(engine, max_delay=0, answer_within=0.05)
    blocker = engine.connect()
    blocker.exec_driver_sql("UPDATE agency SET name = name")  # the write lock, held

    async def click() -> None:
        await recorder.record_async(record(clock, agency="answered-first"))

    try:
        with pytest.raises(StillWaiting):
            asyncio.run(click())
        blocker.commit()
    finally:
        blocker.close()
        recorder.close()  # flushes: the queued click is committed, not dropped
    assert count_events(engine, agency="answered-first") == 1
