"""The lifecycle tick, driven by a fake clock: drafts, approval requests, reminders, sends,
misfires and missed bulletins. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus, ScheduleAction, utcnow
from newsletter.plan.model import SendSlot
from newsletter.schedule.tick import Lifecycle
from newsletter.schedule.timeline import Action
from tests.conftest import make_settings
from tests.schedule_support import APPROVER, World, approve, make_plan, status_of

LONDON = ZoneInfo("Europe/London")
YEAR = [f"2026-{m:02d}" for m in range(7, 13)] + [f"2027-{m:02d}" for m in range(1, 7)]
NOV_SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)  # first Tuesday, 09:00 GMT


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def _lifecycle(engine: Engine, settings: Settings, world: World, clock: FakeClock) -> Lifecycle:
    return Lifecycle(engine, settings, clock=clock, deps=world.deps())


def _run(
    life: Lifecycle, clock: FakeClock, *, until: datetime, approve_drafts: bool = True
) -> None:
    """Tick at every step the scheduler announces (twice: a repeat must do nothing)."""
    while clock.now() < until:
        report = life.tick()
        life.tick()
        if approve_drafts:
            with Session(life.engine) as session:
                drafts = session.exec(
                    select(Bulletin.month).where(col(Bulletin.status) == BulletinStatus.draft)
                ).all()
            for month in drafts:
                approve(life.engine, month, clock=clock)
        if report.next_step is None:
            break
        clock.set(report.next_step.at)


def _ready(engine: Engine, world: World, month: str, clock: FakeClock) -> None:
    """A draft built and approved ahead of time, as comms would."""
    assert world.plan is not None
    with Session(engine) as session:
        world.build(session, make_settings(Path("/nonexistent")), world.plan, month, clock=clock)
        session.commit()
    approve(engine, month, clock=clock)


def _actions(engine: Engine, month: str) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(
            select(ScheduleAction)
            .join(Bulletin, col(Bulletin.id) == col(ScheduleAction.bulletin_id))
            .where(col(Bulletin.month) == month)
        ).all()
        return {row.action: row.detail for row in rows}


def test_a_year_of_sends_fires_once_a_month_at_nine_uk_time_across_both_clock_changes(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(YEAR))
    clock = FakeClock(datetime(2026, 6, 20, tzinfo=UTC))
    _run(_lifecycle(engine, settings, world, clock), clock, until=datetime(2027, 7, 1, tzinfo=UTC))

    assert [month for month, _at in world.sends] == YEAR
    for month, at in world.sends:
        local = at.astimezone(LONDON)
        assert (local.hour, local.minute, local.weekday()) == (9, 0, 1), month
        assert local.day <= 7
        assert f"{local:%Y-%m}" == month
    offsets = {at.astimezone(LONDON).utcoffset() for _m, at in world.sends}
    assert offsets == {timedelta(hours=1), timedelta(0)}  # BST and GMT both crossed
    assert dict(world.sends)["2026-10"] == datetime(2026, 10, 6, 8, 0, tzinfo=UTC)
    assert dict(world.sends)["2026-11"] == datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    # One approval request per month, approved at once: no reminders, no alerts.
    assert world.subjects() == [
        f"Please approve the {m} bulletin: Learning bulletin {m}" for m in YEAR
    ]
    assert world.builds == YEAR
    assert all(status_of(engine, m) == BulletinStatus.sent for m in YEAR)


def test_a_slot_on_a_bank_holiday_goes_out_on_the_next_working_day(
    engine: Engine, settings: Settings
) -> None:
    # "last fri" of December 2026 is Christmas Day; Boxing Day's substitute is Monday the 28th.
    slot = SendSlot(day="last fri", at=time(9, 0), timezone="Europe/London")
    world = World(plan=make_plan(["2026-12"], slot=slot))
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=UTC))
    _run(_lifecycle(engine, settings, world, clock), clock, until=datetime(2027, 1, 5, tzinfo=UTC))

    assert world.sends == [("2026-12", datetime(2026, 12, 29, 9, 0, tzinfo=UTC))]


def test_a_slot_missed_while_the_scheduler_was_down_is_sent_within_the_grace_window(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=20))
    _ready(engine, world, "2026-11", clock)
    clock.set(NOV_SLOT + timedelta(hours=5, minutes=59))  # back up just inside 6 hours

    life = _lifecycle(engine, settings, world, clock)
    life.tick()
    life.tick()

    assert world.sends == [("2026-11", NOV_SLOT + timedelta(hours=5, minutes=59))]
    assert _actions(engine, "2026-11")[Action.send] == "late by 5:59:00"
    assert world.subjects() == []


def test_a_slot_missed_beyond_the_grace_window_is_not_sent_but_marked_missed_and_alerted(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=20))
    _ready(engine, world, "2026-11", clock)
    clock.set(NOV_SLOT + timedelta(days=3))  # Friday: no Tuesday bulletin arrives now

    life = _lifecycle(engine, settings, world, clock)
    life.tick()
    life.tick()

    assert world.sends == []
    assert status_of(engine, "2026-11") == BulletinStatus.missed
    assert world.subjects() == ["NOT SENT: the 2026-11 bulletin was missed"]
    message = world.transport.sent[0]
    assert message.to == APPROVER
    assert "scheduler was not running" in message.text
    assert "/admin/bulletins/2026-11\n" in message.text
    assert "newsletter " not in message.text  # a link to the page, never a shell command


def test_the_grace_window_follows_the_setting(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, approvers=[APPROVER], send_grace_hours=1
    )
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=20))
    _ready(engine, world, "2026-11", clock)
    clock.set(NOV_SLOT + timedelta(hours=2))

    _lifecycle(engine, settings, world, clock).tick()

    assert world.sends == []
    assert status_of(engine, "2026-11") == BulletinStatus.missed


def test_an_unapproved_bulletin_is_not_sent_at_its_slot_but_marked_missed_and_alerted(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=11))
    life = _lifecycle(engine, settings, world, clock)
    _run(life, clock, until=NOV_SLOT + timedelta(minutes=1), approve_drafts=False)

    assert world.sends == []
    assert status_of(engine, "2026-11") == BulletinStatus.missed
    assert world.subjects()[-1] == "NOT SENT: the 2026-11 bulletin was missed"
    assert "it was not approved by its send time" in world.transport.sent[-1].text
    assert clock.now() == NOV_SLOT  # marked at the slot itself, not at the end of the grace


def test_approvers_are_asked_once_and_reminded_three_days_and_one_day_before_once_each(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=12))
    life = _lifecycle(engine, settings, world, clock)
    while clock.now() < NOV_SLOT - timedelta(minutes=1):  # a tick every 3 hours
        life.tick()
        clock.advance(timedelta(hours=3))

    assert world.subjects() == [
        "Please approve the 2026-11 bulletin: Learning bulletin 2026-11",
        "Reminder: please approve the 2026-11 bulletin: Learning bulletin 2026-11",
        "Reminder: please approve the 2026-11 bulletin: Learning bulletin 2026-11",
    ]
    text = world.transport.sent[0].text
    assert "Tue 3 Nov 2026 09:00 GMT" in text
    assert "/admin/bulletins/2026-11\n" in text
    assert "newsletter " not in text
    actions = _actions(engine, "2026-11")
    assert {Action.build, Action.notify, Action.remind_3d, Action.remind_1d} <= set(actions)


def test_a_reminder_that_would_follow_a_late_request_at_once_is_not_sent(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=2))  # the scheduler came up late
    life = _lifecycle(engine, settings, world, clock)
    life.tick()
    clock.advance(timedelta(minutes=1))
    life.tick()

    assert [s.split(":")[0] for s in world.subjects()] == ["Please approve the 2026-11 bulletin"]
    assert _actions(engine, "2026-11")[Action.remind_3d] == "not needed"


def test_an_approved_bulletin_is_scheduled_and_a_changed_plan_stops_its_send(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"], digest="v1"))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    life = _lifecycle(engine, settings, world, clock)
    life.tick()
    assert status_of(engine, "2026-11") == BulletinStatus.scheduled

    # Someone edited November's theme after approval.
    assert world.plan is not None
    edited = replace(world.plan.themes["2026-11"], subject="A different subject")
    world.plan = replace(world.plan, themes={"2026-11": edited}, digest="v2")
    life.tick()
    clock.set(NOV_SLOT)
    life.tick()
    clock.set(NOV_SLOT + timedelta(hours=7))
    life.tick()

    assert world.sends == []
    assert world.subjects() == [
        "Out of date: the 2026-11 bulletin needs rebuilding and approving",
        "NOT SENT: the 2026-11 bulletin was missed",
    ]
    assert status_of(engine, "2026-11") == BulletinStatus.missed


def test_a_paused_bulletin_waits_at_its_slot_and_goes_when_resumed_within_the_grace(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    with Session(engine) as session:
        session.execute(update(Bulletin).values(schedule_paused=True))
        session.commit()
    life = _lifecycle(engine, settings, world, clock)
    clock.set(NOV_SLOT)
    life.tick()
    assert world.sends == []
    assert world.subjects() == ["Paused: the 2026-11 bulletin was not sent at its slot"]

    with Session(engine) as session:
        session.execute(update(Bulletin).values(schedule_paused=False))
        session.commit()
    clock.set(NOV_SLOT + timedelta(hours=2))
    life.tick()

    assert world.sends == [("2026-11", NOV_SLOT + timedelta(hours=2))]


def test_a_restarted_scheduler_repeats_no_step_already_done(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    _lifecycle(engine, settings, world, clock).tick()
    clock.advance(timedelta(minutes=1))

    restarted = _lifecycle(engine, settings, world, clock)  # a new process, same database
    restarted.tick()
    restarted.tick()

    assert world.builds == ["2026-11"]
    assert len(world.subjects()) == 1


def test_an_unreadable_plan_builds_nothing_and_sends_nothing(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    with Session(engine) as session:
        session.execute(update(Bulletin).values(send_at=NOV_SLOT))
        session.commit()
    world.plan = None
    clock.set(NOV_SLOT)

    report = _lifecycle(engine, settings, world, clock).tick()

    assert report.plan_problem is not None
    assert "send_slot.day" in report.plan_problem
    assert world.sends == []
    assert world.subjects() == ["Out of date: the 2026-11 bulletin needs rebuilding and approving"]


def test_an_approval_request_that_cannot_be_emailed_is_tried_again_on_the_next_tick(
    engine: Engine, settings: Settings
) -> None:
    from newsletter.transports import RetryableError

    world = World(plan=make_plan(["2026-11"]))
    world.transport.fail_next(RetryableError("connection refused"))
    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    life = _lifecycle(engine, settings, world, clock)
    life.tick()
    assert world.subjects() == []
    clock.advance(timedelta(minutes=1))
    life.tick()

    assert len(world.subjects()) == 1


def test_a_scheduled_send_that_stops_is_alerted_once_and_left_to_a_person(
    engine: Engine, settings: Settings
) -> None:
    from dataclasses import replace

    from newsletter.clock import Clock
    from newsletter.db import session_scope
    from newsletter.lifecycle import transition

    calls: list[str] = []

    def stopping_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> str:
        calls.append(month)
        with session_scope(engine) as session:
            bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).one()
            transition(session, bulletin, BulletinStatus.sending, now=utcnow())
            transition(session, bulletin, BulletinStatus.failed, now=utcnow())
        return "stopped: the provider refused the API key"

    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    life = Lifecycle(engine, settings, clock=clock, deps=replace(world.deps(), send=stopping_send))
    clock.set(NOV_SLOT)
    life.tick()
    life.tick()
    clock.advance(timedelta(hours=1))
    life.tick()

    assert calls == ["2026-11"]
    assert status_of(engine, "2026-11") == BulletinStatus.failed
    assert world.subjects() == ["FAILED: the 2026-11 bulletin's scheduled send stopped"]
    assert "refused the API key" in world.transport.sent[0].text


def test_a_draft_that_fails_to_build_is_tried_again_on_the_next_tick(
    engine: Engine, settings: Settings
) -> None:
    from dataclasses import replace

    from newsletter.clock import Clock
    from newsletter.plan.model import Plan
    from tests.schedule_support import Built

    world = World(plan=make_plan(["2026-11"]))
    failures = [RuntimeError("no agencies yet")]

    def flaky_build(
        session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock
    ) -> Built:
        if failures:
            raise failures.pop()
        return world.build(session, settings, plan, month, clock=clock)

    clock = FakeClock(NOV_SLOT - timedelta(days=10))
    life = Lifecycle(engine, settings, clock=clock, deps=replace(world.deps(), build=flaky_build))
    first = life.tick()
    clock.advance(timedelta(minutes=1))
    second = life.tick()

    assert first.done == []
    assert second.done == ["2026-11: built the draft", "2026-11: asked the approvers"]
    assert world.builds == ["2026-11"]


def test_a_send_already_started_by_hand_is_left_to_that_process_without_an_alert(
    engine: Engine, settings: Settings
) -> None:
    from dataclasses import replace

    from newsletter.clock import Clock
    from newsletter.dispatch import SendInProgress

    def busy_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> str:
        raise SendInProgress(f"another process is sending {month} right now; nothing was changed")

    world = World(plan=make_plan(["2026-11"]))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    life = Lifecycle(engine, settings, clock=clock, deps=replace(world.deps(), send=busy_send))
    clock.set(NOV_SLOT)
    life.tick()

    assert world.subjects() == []


def test_an_edit_to_another_month_does_not_stop_an_approved_send(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-11", "2026-12"], digest="v1"))
    clock = FakeClock(NOV_SLOT - timedelta(days=5))
    _ready(engine, world, "2026-11", clock)
    life = _lifecycle(engine, settings, world, clock)
    life.tick()

    # December's theme is edited after November was approved: the plan's files changed.
    assert world.plan is not None
    december = replace(world.plan.themes["2026-12"], subject="December, revised")
    world.plan = replace(world.plan, themes={**world.plan.themes, "2026-12": december}, digest="v2")
    clock.set(NOV_SLOT)
    life.tick()

    assert world.sends == [("2026-11", NOV_SLOT)]
    assert status_of(engine, "2026-11") == BulletinStatus.sent
