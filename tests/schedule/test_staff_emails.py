"""Every email the service sends staff, rendered for real: none carries a shell command, each
links to the staff page where the person acts (issue 13's last "done when" line).

The scheduler's messages come from the real lifecycle driven by a fake clock through the state
that makes each one (the fakes of ``tests.schedule_support`` move real bulletin rows); the
approval request of the bulletin page and the account links are rendered by their own code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.clock import Clock, FakeClock
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.lifecycle import transition
from newsletter.models import Bulletin, BulletinStatus, LinkPurpose, utcnow
from newsletter.schedule.tick import Lifecycle
from newsletter.web.staff.bulletins import _approval_email
from newsletter.web.staff.links import _message
from tests.conftest import make_settings
from tests.schedule.test_takeover import SLOT as TAKEOVER_SLOT
from tests.schedule.test_takeover import Fleet, die_mid_send, seed
from tests.schedule_support import APPROVER, World, approve, make_plan

MONTH = "2026-11"
SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
BASE = "https://bulletin.example.org"
# A line that is a command to type: `newsletter ...`, `$ ...`, `python -m ...`, `make ...`.
COMMAND = re.compile(r"^\s*(\$ |newsletter\s|python3?\s|\.venv/|make\s|sudo\s)", re.MULTILINE)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        approvers=[APPROVER],
        public_base_url=BASE,
        batch_size=3,
    )


Messages = dict[str, str]  # subject -> text


def _ready(engine: Engine, world: World, clock: FakeClock) -> None:
    assert world.plan is not None
    with Session(engine) as session:
        world.build(session, make_settings(Path("/nonexistent")), world.plan, MONTH, clock=clock)
        session.commit()
    approve(engine, MONTH, clock=clock)


def _sent(world: World) -> Messages:
    return {m.subject: m.text for m in world.transport.sent}


def unapproved_until_missed(engine: Engine, settings: Settings) -> Messages:
    """Asked, reminded 3 days and 1 day before, then missed at the slot."""
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(SLOT - timedelta(days=10))
    life = Lifecycle(engine, settings, clock=clock, deps=world.deps())
    for moment in (SLOT - timedelta(days=10), SLOT - timedelta(days=3), SLOT - timedelta(days=1)):
        clock.set(moment)
        life.tick()
        clock.advance(timedelta(minutes=1))
        life.tick()
    clock.set(SLOT)
    life.tick()
    return _sent(world)


def paused_at_the_slot(engine: Engine, settings: Settings) -> Messages:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(SLOT - timedelta(days=5))
    _ready(engine, world, clock)
    with Session(engine) as session:
        session.execute(update(Bulletin).values(schedule_paused=True))
        session.commit()
    clock.set(SLOT)
    Lifecycle(engine, settings, clock=clock, deps=world.deps()).tick()
    return _sent(world)


def out_of_date_before_the_slot(engine: Engine, settings: Settings) -> Messages:
    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(SLOT - timedelta(days=5))
    _ready(engine, world, clock)
    with Session(engine) as session:  # the month itself changed since the build
        session.execute(update(Bulletin).values(month_hash="an older fingerprint"))
        session.commit()
    Lifecycle(engine, settings, clock=clock, deps=world.deps()).tick()
    return _sent(world)


def a_send_that_raised(engine: Engine, settings: Settings) -> Messages:
    def broken_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> str:
        raise RuntimeError("the provider refused the API key")

    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(SLOT - timedelta(days=5))
    _ready(engine, world, clock)
    clock.set(SLOT)
    Lifecycle(engine, settings, clock=clock, deps=replace(world.deps(), send=broken_send)).tick()
    return _sent(world)


def a_send_that_ended_failed(engine: Engine, settings: Settings) -> Messages:
    def failing_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> str:
        with session_scope(engine) as session:
            bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).one()
            transition(session, bulletin, BulletinStatus.sending, now=utcnow())
            transition(session, bulletin, BulletinStatus.failed, now=utcnow())
        return "stopped after 3 failed batches"

    world = World(plan=make_plan([MONTH]))
    clock = FakeClock(SLOT - timedelta(days=5))
    _ready(engine, world, clock)
    clock.set(SLOT)
    Lifecycle(engine, settings, clock=clock, deps=replace(world.deps(), send=failing_send)).tick()
    return _sent(world)


def an_interrupted_send_resumed(engine: Engine, settings: Settings) -> Messages:
    with Session(engine) as session:
        seed(session)
    clock = FakeClock(TAKEOVER_SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    fleet = Fleet(engine, settings, clock)
    clock.advance(timedelta(minutes=2))
    fleet.life.tick()
    return _sent(fleet.world)


def an_interrupted_send_found_too_late(engine: Engine, settings: Settings) -> Messages:
    with Session(engine) as session:
        seed(session)
    clock = FakeClock(TAKEOVER_SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    clock.advance(timedelta(hours=settings.send_grace_hours, minutes=1))
    fleet = Fleet(engine, settings, clock)
    fleet.life.tick()
    return _sent(fleet.world)


SCENARIOS: dict[str, tuple[Callable[[Engine, Settings], Messages], tuple[str, ...]]] = {
    "approval request, reminders and missed slot": (
        unapproved_until_missed,
        ("Please approve", "Reminder: please approve", "NOT SENT"),
    ),
    "paused at its slot": (paused_at_the_slot, ("Paused",)),
    "stale draft (out of date)": (out_of_date_before_the_slot, ("Out of date",)),
    "scheduled send raised": (a_send_that_raised, ("FAILED",)),
    "scheduled send ended failed": (a_send_that_ended_failed, ("FAILED",)),
    "interrupted send resumed": (an_interrupted_send_resumed, ("Resumed",)),
    "interrupted send found too late": (an_interrupted_send_found_too_late, ("STOPPED",)),
}


def assert_acts_on_a_page(subject: str, text: str, month: str) -> None:
    assert not COMMAND.search(text), f"{subject!r} carries a command:\n{text}"
    assert "newsletter " not in text.replace("newsletter bulletin", ""), text
    assert f"{BASE}/admin/bulletins/{month}" in text, f"{subject!r} links to no page:\n{text}"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_each_scheduler_email_to_staff_links_to_the_bulletin_page_and_carries_no_command(
    engine: Engine, settings: Settings, scenario: str
) -> None:
    make, expected = SCENARIOS[scenario]

    messages = make(engine, settings)

    for prefix in expected:
        assert any(s.startswith(prefix) for s in messages), (prefix, sorted(messages))
    for subject, text in messages.items():
        assert_acts_on_a_page(subject, text, MONTH)


def test_the_approval_request_from_the_bulletin_page_links_to_it_and_carries_no_command(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, public_base_url=BASE)

    subject, text = _approval_email(settings, MONTH, "ann@example.org")

    assert_acts_on_a_page(subject, text, MONTH)


@pytest.mark.parametrize("purpose", list(LinkPurpose))
def test_account_emails_link_to_the_staff_pages_and_carry_no_command(
    tmp_path: Path, purpose: LinkPurpose
) -> None:
    settings = make_settings(tmp_path, public_base_url=BASE)
    url = f"{BASE}/admin/choose-password/TOKEN"

    _subject, text = _message(purpose, url, settings=settings, invited_by="ann@example.org")

    assert not COMMAND.search(text), text
    assert url in text
