"""`schedule list`'s rows: every bulletin that was built stays listed, the sent ones above all."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import BulletinStatus
from newsletter.plan.digest import month_digest
from newsletter.schedule.outlook import outlook
from newsletter.schedule.tick import Lifecycle
from tests.factories import make_bulletin
from tests.schedule_support import World, make_plan

DECEMBER_FIRST = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_bulletin_sent_months_ago_is_still_listed_and_a_never_built_one_is_not(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-06", "2026-07", "2026-11", "2026-12"]))
    with Session(engine) as session:
        make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
        session.commit()
    life = Lifecycle(engine, settings, clock=FakeClock(DECEMBER_FIRST), deps=world.deps())

    rows, problem = outlook(life, DECEMBER_FIRST)

    assert problem is None
    by_month = {row.month: row for row in rows}
    assert by_month["2026-07"].status == "sent"  # slot 7 July: more than 92 days ago
    assert "2026-06" not in by_month  # long past and never built: nothing to say
    assert by_month["2026-11"].status == "never built: not sent"
    assert by_month["2026-12"].status == "not built"


def test_an_approved_bulletin_whose_month_changed_shows_approved_out_of_date(
    engine: Engine, settings: Settings
) -> None:
    world = World(plan=make_plan(["2026-12"]))
    assert world.plan is not None
    with Session(engine) as session:
        make_bulletin(
            session,
            month="2026-12",
            status=BulletinStatus.approved,
            approved_at=DECEMBER_FIRST,
            month_hash="0" * 64,
        )
        make_bulletin(
            session,
            month="2027-01",
            status=BulletinStatus.approved,
            approved_at=DECEMBER_FIRST,
            month_hash="0" * 64,
        )
        session.commit()
    world.plan = make_plan(["2026-12", "2027-01"])
    assert month_digest(world.plan, "2026-12") != "0" * 64
    life = Lifecycle(engine, settings, clock=FakeClock(DECEMBER_FIRST), deps=world.deps())

    rows, _ = outlook(life, DECEMBER_FIRST)

    row = {r.month: r for r in rows}["2026-12"]
    assert row.status == "approved, out of date"
    assert row.next_action == "none: out of date, rebuild and approve"
