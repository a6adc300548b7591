"""The scheduler moves an extra edition along the same lifecycle as its month's bulletin, at its
own send time: its own draft, approval request, send and missed rule. Runs on SQLite and
PostgreSQL, with a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import BulletinStatus
from newsletter.schedule import outlook
from newsletter.schedule.tick import Lifecycle
from tests.conftest import make_settings
from tests.schedule_support import APPROVER, World, approve, make_plan, status_of, theme

LONDON = ZoneInfo("Europe/London")
EXTRA = "2026-11-urgent-briefing"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def _world() -> World:
    """November 2026 (first Tuesday, 3 November 09:00 GMT) and an urgent briefing of
    November out on Thursday 19 November at 14:30."""
    plan = make_plan(["2026-11", "2026-12"])
    urgent = theme(
        EXTRA,
        title="Urgent: a change to the referral line",
        send_date=date(2026, 11, 19),
        send_time=time(14, 30),
    )
    themes = dict(sorted({**plan.themes, EXTRA: urgent}.items()))
    return World(plan=replace(plan, themes=themes))


def test_an_extra_edition_is_built_asked_for_and_sent_at_its_own_time_beside_its_month(
    engine: Engine, settings: Settings
) -> None:
    world = _world()
    clock = FakeClock(datetime(2026, 10, 20, tzinfo=UTC))
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())

    while clock.now() < datetime(2026, 11, 30, tzinfo=UTC):
        report = life.tick()
        for key in ("2026-11", EXTRA):
            if key in world.builds and status_of(engine, key) == BulletinStatus.draft:
                approve(engine, key, clock=clock)
        assert report.next_step is not None
        clock.set(report.next_step.at)

    assert [(key, at.astimezone(LONDON)) for key, at in world.sends] == [
        ("2026-11", datetime(2026, 11, 3, 9, 0, tzinfo=LONDON)),
        (EXTRA, datetime(2026, 11, 19, 14, 30, tzinfo=LONDON)),
    ]
    # Each built 10 days before its own send time, and each asked for by name.
    assert world.builds[:2] == ["2026-11", EXTRA]
    assert any(EXTRA in subject for subject in world.subjects())
    assert status_of(engine, EXTRA) == BulletinStatus.sent
    assert status_of(engine, "2026-11") == BulletinStatus.sent


def test_an_unapproved_extra_edition_is_missed_on_its_own_while_its_month_goes_out(
    engine: Engine, settings: Settings
) -> None:
    world = _world()
    clock = FakeClock(datetime(2026, 10, 20, tzinfo=UTC))
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())

    while clock.now() < datetime(2026, 11, 30, tzinfo=UTC):
        report = life.tick()
        if "2026-11" in world.builds and status_of(engine, "2026-11") == BulletinStatus.draft:
            approve(engine, "2026-11", clock=clock)
        assert report.next_step is not None
        clock.set(report.next_step.at)

    assert [key for key, _at in world.sends] == ["2026-11"]
    assert status_of(engine, EXTRA) == BulletinStatus.missed
    assert any(f"NOT SENT: the {EXTRA} bulletin was missed" in s for s in world.subjects())


def test_the_outlook_lists_an_extra_edition_after_its_month_with_its_own_next_step(
    engine: Engine, settings: Settings
) -> None:
    world = _world()
    clock = FakeClock(datetime(2026, 10, 20, tzinfo=UTC))
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())

    rows, problem = outlook(life, clock.now())

    assert problem is None
    assert [row.month for row in rows] == ["2026-11", EXTRA, "2026-12"]
    extra = rows[1]
    assert extra.next_at == datetime(2026, 11, 9, 14, 30, tzinfo=UTC)  # 10 days before
