"""People's "send now" and "resume" requests: recorded once however often they are made, and
carried out by the leading scheduler's tick through the same start path as a scheduled send.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.lifecycle import transition
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    SendRequest,
    SendRequestKind,
    SendRequestState,
)
from newsletter.schedule import (
    ScheduleRefused,
    open_request,
    request_send,
    scheduler_state,
    set_paused,
    withdraw_request,
)
from newsletter.schedule.control import beat
from newsletter.schedule.tick import Lifecycle
from tests.conftest import make_settings
from tests.schedule_support import APPROVER, World, approve, make_plan, status_of

MONTH = "2026-11"
BEFORE_SLOT = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)  # the slot is Tuesday 3 November


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def _ready(engine: Engine, world: World, clock: FakeClock, *, approved: bool = True) -> Bulletin:
    assert world.plan is not None
    with Session(engine, expire_on_commit=False) as session:
        bulletin = world.build(
            session, make_settings(Path("/nonexistent")), world.plan, MONTH, clock=clock
        ).bulletin
        session.commit()
    if approved:
        approve(engine, MONTH, clock=clock)
    return bulletin


def _ask(
    engine: Engine,
    clock: FakeClock,
    *,
    by: str = "ann@example.org",
    kind: SendRequestKind = SendRequestKind.send,
) -> tuple[SendRequest, bool]:
    with Session(engine, expire_on_commit=False) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        made = request_send(session, bulletin, by=by, kind=kind, now=clock.now())
        session.commit()
    return made


def _request(engine: Engine, request_id: int | None) -> SendRequest:
    with Session(engine) as session:
        row = session.get(SendRequest, request_id)
        assert row is not None
        return row


def test_asking_twice_or_by_two_people_makes_one_request(engine: Engine) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    _ready(engine, world, clock)

    first, made_first = _ask(engine, clock)
    again, made_again = _ask(engine, clock)
    other, made_other = _ask(engine, clock, by="bob@example.org")

    assert (made_first, made_again, made_other) == (True, False, False)
    assert first.id == again.id == other.id
    assert other.requested_by == "ann@example.org"
    with Session(engine) as session:
        assert len(session.exec(select(SendRequest)).all()) == 1


def test_the_next_tick_sends_a_requested_bulletin_before_its_slot_once(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    _ready(engine, world, clock)
    request, _ = _ask(engine, clock)
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())

    report = life.tick()
    life.tick()

    assert world.sends == [(MONTH, BEFORE_SLOT)]
    assert f"{MONTH}: send started, as ann@example.org asked" in report.done
    done = _request(engine, request.id)
    assert (done.state, done.outcome) == (SendRequestState.done, "sent")
    assert done.carried_by.startswith("the scheduler, process ")
    with Session(engine) as session:
        assert open_request(session, done.bulletin_id) is None
    # At the slot, nothing more: it was sent.
    clock.set(datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    life.tick()
    assert len(world.sends) == 1


def test_a_request_for_a_bulletin_that_may_not_be_sent_is_refused_in_words(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    _ready(engine, world, clock)
    request, _ = _ask(engine, clock)
    with Session(engine) as session:
        set_paused(session, MONTH, paused=True)
        session.commit()

    Lifecycle(engine, settings, clock=clock, deps=world.deps()).tick()

    refused = _request(engine, request.id)
    assert (refused.state, refused.outcome) == (SendRequestState.refused, "it is paused")
    assert world.sends == []
    assert status_of(engine, MONTH) != BulletinStatus.sent


def test_a_request_nobody_carried_out_within_the_grace_window_is_not_acted_on(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT - timedelta(days=2))
    _ready(engine, world, clock)
    request, _ = _ask(engine, clock)
    clock.set(BEFORE_SLOT)

    Lifecycle(engine, settings, clock=clock, deps=world.deps()).tick()

    refused = _request(engine, request.id)
    assert refused.state == SendRequestState.refused
    assert "ask again" in refused.outcome
    assert world.sends == []


def test_a_stopped_send_is_resumed_only_by_a_persons_request(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(datetime(2026, 11, 3, 9, 30, tzinfo=UTC))
    bulletin = _ready(engine, world, clock)
    with Session(engine) as session:
        row = session.get(Bulletin, bulletin.id)
        assert row is not None
        transition(session, row, BulletinStatus.sending, now=clock.now())
        transition(session, row, BulletinStatus.stopped, now=clock.now())
        session.commit()
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())

    life.tick()
    assert status_of(engine, MONTH) == BulletinStatus.stopped  # the scheduler leaves it be

    wrong, _ = _ask(engine, clock)  # "send now" is not how a stopped send goes on
    life.tick()
    assert _request(engine, wrong.id).outcome == "its send is stopped: resume it instead"

    resume, _ = _ask(engine, clock, kind=SendRequestKind.resume)
    life.tick()
    assert status_of(engine, MONTH) == BulletinStatus.sent
    assert _request(engine, resume.id).state == SendRequestState.done
    assert world.sends == [(MONTH, clock.now())]


def test_a_pending_request_can_be_withdrawn_and_a_new_one_made(engine: Engine) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    bulletin = _ready(engine, world, clock)
    first, _ = _ask(engine, clock)
    with Session(engine, expire_on_commit=False) as session:
        assert bulletin.id is not None
        withdrawn = withdraw_request(session, bulletin.id, now=clock.now())
        session.commit()
    assert withdrawn is not None
    assert withdrawn.state == SendRequestState.withdrawn
    second, made = _ask(engine, clock)
    assert made
    assert second.id != first.id


def test_pausing_needs_a_bulletin_not_yet_sent(engine: Engine) -> None:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    with Session(engine) as session, pytest.raises(ScheduleRefused, match="build it first"):
        set_paused(session, MONTH, paused=True)
    _ready(engine, world, clock)
    with Session(engine) as session:
        session.execute(update(Bulletin).values(status=BulletinStatus.sent))
        session.commit()
        with pytest.raises(ScheduleRefused, match="only one not yet sent"):
            set_paused(session, MONTH, paused=True)


def test_the_scheduler_state_says_plainly_when_none_runs_or_none_ticks(engine: Engine) -> None:
    now = BEFORE_SLOT
    with Session(engine) as session:
        nobody = scheduler_state(session, leader_present=False, now=now)
        assert not nobody.running
        assert "No scheduler is running" in nobody.text
        beat(session, name="default", now=now, tick_seconds=60, leading_since=now)
        session.commit()
        ticking = scheduler_state(session, leader_present=True, now=now + timedelta(seconds=30))
        assert ticking.running
        assert "checks every 60 seconds" in ticking.text
        stuck = scheduler_state(session, leader_present=True, now=now + timedelta(minutes=10))
        assert not stuck.running
        assert "may be stuck" in stuck.text


def test_the_leading_scheduler_records_each_tick_and_the_page_names_it(
    engine: Engine, settings: Settings
) -> None:
    from newsletter.schedule import SchedulerService, leader_present

    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(BEFORE_SLOT)
    service = SchedulerService(settings, engine=engine, clock=clock, deps=world.deps())
    with Session(engine) as session:
        assert not scheduler_state(
            session, leader_present=leader_present(settings), now=clock.now()
        ).running
    assert service.leadership.try_acquire()
    try:
        service.tick()
        with Session(engine) as session:
            state = scheduler_state(
                session, leader_present=leader_present(settings), now=clock.now()
            )
    finally:
        service.leadership.release()
    assert state.running
    assert state.heartbeat is not None
    assert state.heartbeat.last_tick_at == BEFORE_SLOT
    assert f"process {state.heartbeat.pid} " in state.text
