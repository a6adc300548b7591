"""The APScheduler side: jobs in the database's job store survive restarts without copies, the
embedded scheduler ticks in a thread, and ``python scheduler.py`` runs and says what is next."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from newsletter.clock import Clock, FakeClock
from newsletter.config import Settings
from newsletter.plan.model import Plan
from newsletter.schedule.deps import Deps
from newsletter.schedule.retention import apply_retention, months_before
from newsletter.schedule.runner import (
    RETENTION_JOB_ID,
    TICK_JOB_ID,
    SchedulerService,
    stored_jobs,
)
from tests.conftest import REPO, TEST_SECRET, make_settings
from tests.schedule_support import APPROVER, World, approve, make_plan

NOV_SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def test_a_restarted_scheduler_restores_its_two_jobs_without_duplicates(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan([]))
    for _restart in range(3):
        service = SchedulerService(
            settings, engine=engine, clock=FakeClock(NOV_SLOT), deps=world.deps(), name="restart"
        )
        scheduler = service.build_scheduler()
        scheduler.start(paused=True)  # jobs reach the store; none runs
        scheduler.shutdown()

    jobs = dict(stored_jobs(engine))
    assert sorted(jobs) == [TICK_JOB_ID, RETENTION_JOB_ID]
    retention_at = jobs[RETENTION_JOB_ID]
    assert retention_at is not None
    assert retention_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") == "03:17"


def test_the_embedded_scheduler_ticks_at_once_in_its_thread_and_sends_what_is_due(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    service = SchedulerService(settings, engine=engine, clock=clock, deps=world.deps(), name="e")
    assert service.leadership.try_acquire()
    service.tick()
    service.leadership.release()
    approve(engine, "2026-11", clock=clock)
    clock.set(NOV_SLOT + timedelta(minutes=1))  # the app was restarted a minute after the slot

    sent = threading.Event()
    deps = world.deps()

    def send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
        result = world.send(engine, settings, month, clock=clock)
        sent.set()
        return result

    service = SchedulerService(
        settings,
        engine=engine,
        clock=clock,
        deps=Deps(deps.load_plan, deps.build, send, deps.transport_factory, deps.roll_up),
        name="e",
    )
    thread = service.start_in_thread()
    try:
        assert sent.wait(timeout=30)
    finally:
        service.stop_thread(timeout=30)
    assert not thread.is_alive()
    assert world.sends == [("2026-11", NOV_SLOT + timedelta(minutes=1))]


def test_retention_rolls_up_raw_events_older_than_the_retention_months(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=None)
    clock = FakeClock(datetime(2026, 11, 26, 3, 17, tzinfo=UTC))
    apply_retention(engine, months=24, clock=clock, roll_up=world.roll_up)
    assert world.rolled_before == [datetime(2024, 11, 26, 3, 17, tzinfo=UTC)]


def test_months_before_keeps_the_day_where_the_month_has_it() -> None:
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )


def _lines(stream: object) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _read_until(lines: queue.Queue[str], needle: str, seen: list[str]) -> None:
    while not any(needle in line for line in seen):
        seen.append(lines.get(timeout=60))


def test_python_scheduler_py_runs_on_the_embedded_default_and_logs_what_it_will_do_next(
    tmp_path: Path,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(REPO / "campaigns"),
        "NEWSLETTER_TEMPLATES_DIR": str(REPO / "templates"),
        "NEWSLETTER_SUBSCRIBERS_DIR": str(REPO / "subscribers"),
    }

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(REPO / "scheduler.py")],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )

    first = start()
    second: subprocess.Popen[str] | None = None
    try:
        assert first.stderr is not None
        first_log: list[str] = []
        _read_until(_lines(first.stderr), f"job {RETENTION_JOB_ID}: next run", first_log)
        text = "".join(first_log)
        assert "this scheduler leads (file lock" in text
        assert "next: " in text
        assert f"job {TICK_JOB_ID}: next run" in text

        second = start()
        assert second.stderr is not None
        second_log: list[str] = []
        _read_until(_lines(second.stderr), "standby: another scheduler leads", second_log)

        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def test_newsletter_run_embeds_the_scheduler_beside_the_web_app_and_stops_it(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(REPO / "campaigns"),
        "NEWSLETTER_TEMPLATES_DIR": str(REPO / "templates"),
        "NEWSLETTER_SUBSCRIBERS_DIR": str(REPO / "subscribers"),
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "newsletter"), "run", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.STDOUT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = _lines(proc.stdout)
        seen: list[str] = []
        _read_until(lines, f"job {RETENTION_JOB_ID}: next run", seen)
        _read_until(lines, "newsletter is running", seen)
        proc.send_signal(signal.SIGINT)
        _read_until(lines, "scheduler stopped", seen)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert "this scheduler leads" in "".join(seen)


def test_a_standby_service_takes_over_when_the_leader_stops_and_does_not_resend(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    setup = SchedulerService(settings, engine=engine, clock=clock, deps=world.deps(), name="s")
    assert setup.leadership.try_acquire()
    setup.tick()
    setup.leadership.release()
    approve(engine, "2026-11", clock=clock)
    clock.set(NOV_SLOT)

    ticked = {"a": threading.Event(), "b": threading.Event()}

    def service(name: str) -> SchedulerService:
        deps = world.deps()

        def load_plan(settings: Settings) -> Plan:
            plan = deps.load_plan(settings)
            ticked[name].set()
            return plan

        return SchedulerService(
            settings,
            engine=engine,
            clock=clock,
            deps=Deps(load_plan, deps.build, deps.send, deps.transport_factory, deps.roll_up),
            name=name,
            standby_retry=0.05,
        )

    leader, standby = service("a"), service("b")
    leader.start_in_thread()
    try:
        assert ticked["a"].wait(timeout=30)
        standby.start_in_thread()
        assert not ticked["b"].wait(timeout=0.2)  # waiting, not acting
        leader.stop_thread(timeout=30)
        assert ticked["b"].wait(timeout=30)  # took over and ticked
    finally:
        leader.stop_thread(timeout=30)
        standby.stop_thread(timeout=30)

    assert world.sends == [("2026-11", NOV_SLOT)]


def test_a_long_send_runs_in_its_own_thread_and_ticks_go_on_without_starting_another(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11", "2026-12"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    started, release = threading.Event(), threading.Event()
    deps = world.deps()

    def slow_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
        started.set()
        assert release.wait(timeout=30)
        return world.send(engine, settings, month, clock=clock)

    service = SchedulerService(
        settings,
        engine=engine,
        clock=clock,
        deps=Deps(deps.load_plan, deps.build, slow_send, deps.transport_factory, deps.roll_up),
        name="long",
    )
    assert service.leadership.try_acquire()
    try:
        service.tick()
        approve(engine, "2026-11", clock=clock)
        clock.set(NOV_SLOT)
        first = service.tick()
        assert started.wait(timeout=30)
        clock.advance(timedelta(minutes=1))
        second = service.tick()  # the send is still running
        release.set()
        service.join_sends(timeout=30)
    finally:
        release.set()
        service.leadership.release()

    assert first is not None
    assert first.done == ["2026-11: send started"]
    assert second is not None
    assert second.done == []
    assert world.sends == [("2026-11", NOV_SLOT + timedelta(minutes=1))]
