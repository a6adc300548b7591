"""One scheduler acts at a time: the leadership lock on SQLite (flock) and PostgreSQL
(advisory lock), a standby taking over when the leader dies, and two schedulers at one slot."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import BulletinStatus
from newsletter.schedule.leader import FileLeadership, PostgresLeadership, leadership_for
from newsletter.schedule.runner import SchedulerService
from tests.conftest import REPO, make_settings
from tests.schedule_support import APPROVER, World, approve, make_plan, status_of

NOV_SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def _abandon(leader: object) -> None:
    assert isinstance(leader, FileLeadership | PostgresLeadership)
    leader.abandon()


def test_a_second_scheduler_waits_while_the_first_leads_and_takes_over_when_it_dies(
    settings: Settings,
) -> None:
    first, second = leadership_for(settings), leadership_for(settings)
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # asking again while leading is harmless
        assert not second.try_acquire()
        assert not second.still_held()

        _abandon(first)  # the leader's process dies without tidying up

        assert not first.still_held()
        assert second.try_acquire()
        assert second.still_held()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()


def test_a_leader_that_stands_down_cleanly_hands_over_at_once(settings: Settings) -> None:
    first, second = leadership_for(settings), leadership_for(settings)
    try:
        assert first.try_acquire()
        first.release()
        first.release()  # twice: harmless
        assert second.try_acquire()
    finally:
        second.release()


def test_the_lock_is_held_against_another_process_until_that_process_is_killed(
    settings: Settings,
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "NEWSLETTER_DATA_DIR": str(settings.data_dir),
        "NEWSLETTER_DATABASE_URL": settings.resolved_database_url,
    }
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from newsletter.config import get_settings\n"
            "from newsletter.schedule.leader import leadership_for\n"
            "leader = leadership_for(get_settings())\n"
            "print(leader.try_acquire(), flush=True)\n"
            "sys.stdin.read()\n",
        ],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    ours = leadership_for(settings)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "True"
        assert not ours.try_acquire()
        holder.kill()  # no clean-up runs: the kernel or the server must free the lock
        holder.wait(timeout=10)
        assert _eventually(ours.try_acquire)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        ours.release()


def _eventually(attempt: Callable[[], bool], tries: int = 50) -> bool:
    """PostgreSQL notices a killed client's connection a moment after the kill."""
    wait = threading.Event()
    for _ in range(tries):
        if attempt():
            return True
        wait.wait(0.1)
    return False


def test_two_schedulers_at_one_slot_send_once_and_the_standby_does_not_resend_after_takeover(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    leader = SchedulerService(settings, engine=engine, clock=clock, deps=world.deps(), name="a")
    standby = SchedulerService(settings, engine=engine, clock=clock, deps=world.deps(), name="b")
    try:
        assert leader.leadership.try_acquire()
        assert not standby.leadership.try_acquire()
        assert leader.tick() is not None  # builds the draft
        approve(engine, "2026-11", clock=clock)
        clock.set(NOV_SLOT)

        assert standby.tick() is None  # a standby does nothing, however often it ticks
        assert leader.tick() is not None  # starts the send in a thread of its own
        leader.join_sends(timeout=30)
        assert standby.tick() is None

        _abandon(leader.leadership)
        assert leader.tick() is None  # a leader that lost the lock stands down
        assert standby.leadership.try_acquire()
        clock.advance(timedelta(minutes=1))
        assert standby.tick() is not None
        leader.join_sends(timeout=30)
        standby.join_sends(timeout=30)
    finally:
        leader.leadership.release()
        standby.leadership.release()

    assert world.sends == [("2026-11", NOV_SLOT)]
    assert world.builds == ["2026-11"]
    assert status_of(engine, "2026-11") == BulletinStatus.sent
