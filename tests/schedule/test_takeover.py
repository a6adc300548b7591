"""A send whose process died is resumed by the leading scheduler; a stopped one stays stopped.

The "dying" send is the real dispatch, killed mid-batch by its transport raising a
BaseException: the send lock goes with it (as with a dead process's session), the bulletin is
left ``sending`` and the batch in flight ``sending``, exactly what ``kill -9`` leaves.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.clock import Clock, FakeClock
from newsletter.config import Settings
from newsletter.dispatch import send_bulletin, stop_send
from newsletter.dispatch.lock import send_lock, sender_alive
from newsletter.models import Bulletin, BulletinStatus, Delivery, ScheduleAction
from newsletter.schedule.deps import Deps
from newsletter.schedule.tick import Lifecycle
from newsletter.schedule.timeline import Action
from newsletter.transports.base import Batch, RecipientResult
from newsletter.transports.memory import MemoryTransport
from tests.conftest import make_settings
from tests.factories import make_agency, make_bulletin, make_subscriber, make_variant
from tests.schedule_support import APPROVER, World, make_plan, status_of

MONTH = "2026-11"
SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
PEOPLE = 12
BATCH = 3


class Died(BaseException):
    """What the process's death looks like from inside: nothing after it runs."""


class DyingTransport(MemoryTransport):
    """Sends ``survive`` batches, then dies in the middle of the next one."""

    def __init__(self, survive: int) -> None:
        super().__init__()
        self.survive = survive

    def send(self, batch: Batch) -> list[RecipientResult]:
        if self.survive == 0:
            raise Died
        self.survive -= 1
        return super().send(batch)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url=database_url, approvers=[APPROVER], batch_size=BATCH
    )


def seed(session: Session) -> None:
    plan = make_plan([MONTH])
    bulletin = make_bulletin(
        session, month=MONTH, status=BulletinStatus.approved, plan_hash=plan.digest, send_at=SLOT
    )
    for agency in ("health", "police"):
        make_agency(session, slug=agency)
        make_variant(session, bulletin, agency=agency)
    for n in range(PEOPLE):
        make_subscriber(session, agency=("health", "police")[n % 2])
    session.commit()


def die_mid_send(engine: Engine, settings: Settings, clock: Clock, survive: int) -> MemoryTransport:
    dying = DyingTransport(survive)
    with pytest.raises(Died):
        send_bulletin(engine, settings, MONTH, transport=dying, clock=clock)
    return dying


class Fleet:
    """The leading scheduler's lifecycle, sending through a real dispatch into ``outbox``."""

    def __init__(self, engine: Engine, settings: Settings, clock: FakeClock) -> None:
        self.world = World(plan=make_plan([MONTH]))
        self.outbox = MemoryTransport()

        def send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
            return send_bulletin(engine, settings, month, transport=self.outbox, clock=clock)

        deps = self.world.deps()
        self.life = Lifecycle(
            engine,
            settings,
            clock=clock,
            deps=Deps(
                load_plan=deps.load_plan,
                build=deps.build,
                send=send,
                transport_factory=deps.transport_factory,
                roll_up=deps.roll_up,
            ),
        )


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(str(s) for s in session.exec(select(Delivery.status)).all())


def test_a_send_whose_process_died_is_resumed_and_nobody_gets_it_twice(
    engine: Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    clock = FakeClock(SLOT + timedelta(minutes=1))
    first = die_mid_send(engine, settings, clock, survive=2)
    assert status_of(engine, MONTH) == BulletinStatus.sending
    with Session(engine) as s:
        bulletin_id = s.exec(select(Bulletin.id).where(col(Bulletin.month) == MONTH)).one()
    assert bulletin_id is not None
    assert not sender_alive(engine, bulletin_id=bulletin_id)  # its lock died with it
    fleet = Fleet(engine, settings, clock)
    clock.advance(timedelta(minutes=2))
    report = fleet.life.tick()
    assert f"{MONTH}: resumed an interrupted send" in report.done
    assert status_of(engine, MONTH) == BulletinStatus.sent
    got = Counter(m.delivery_id for m in first.sent + fleet.outbox.sent)
    assert max(got.values()) == 1  # nobody twice
    # The batch in flight when it died is unknown (not resent), everyone else got it once.
    assert statuses(engine) == Counter({"sent": PEOPLE - BATCH, "unknown": BATCH})
    assert len(got) == PEOPLE - BATCH
    [resumed] = [s for s in fleet.world.subjects() if s.startswith("Resumed")]
    assert MONTH in resumed
    fleet.life.tick()  # a second tick finds it sent: nothing more
    assert len(fleet.outbox.sent) == PEOPLE - BATCH - 2 * BATCH


def test_a_send_that_is_still_running_is_left_alone(
    engine: Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    clock = FakeClock(SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    with Session(engine) as s:
        bulletin_id = s.exec(select(Bulletin.id).where(col(Bulletin.month) == MONTH)).one()
    assert bulletin_id is not None
    fleet = Fleet(engine, settings, clock)
    with engine.connect() as conn, send_lock(conn, bulletin_id=bulletin_id, month=MONTH):
        assert sender_alive(engine, bulletin_id=bulletin_id)
        report = fleet.life.tick()  # another host's sender holds the lock: it is alive
    assert report.done == []
    assert fleet.outbox.sent == []
    assert status_of(engine, MONTH) == BulletinStatus.sending
    assert not sender_alive(engine, bulletin_id=bulletin_id)


def test_a_send_a_person_stopped_stays_stopped(
    engine: Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    clock = FakeClock(SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    with Session(engine) as s:  # `bulletin stop` while nobody was sending any more
        stop_send(s, MONTH, clock=clock)
        s.commit()
    fleet = Fleet(engine, settings, clock)
    assert fleet.life.tick().done == []
    assert status_of(engine, MONTH) == BulletinStatus.stopped
    assert fleet.outbox.sent == []


def test_a_paused_interrupted_send_waits_for_a_person(
    engine: Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    clock = FakeClock(SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    with Session(engine) as s:
        s.execute(update(Bulletin).values(schedule_paused=True))
        s.commit()
    fleet = Fleet(engine, settings, clock)
    assert fleet.life.tick().done == []
    assert fleet.outbox.sent == []


def test_an_interrupted_send_found_after_the_grace_window_is_reported_not_resumed(
    engine: Engine, session: Session, settings: Settings
) -> None:
    seed(session)
    clock = FakeClock(SLOT + timedelta(minutes=1))
    die_mid_send(engine, settings, clock, survive=1)
    clock.advance(timedelta(hours=settings.send_grace_hours, minutes=1))
    fleet = Fleet(engine, settings, clock)
    fleet.life.tick()
    fleet.life.tick()
    assert fleet.outbox.sent == []
    assert status_of(engine, MONTH) == BulletinStatus.sending
    stopped = [s for s in fleet.world.subjects() if s.startswith("STOPPED")]
    assert len(stopped) == 1  # once, not every tick
    with Session(engine) as s:
        actions = set(s.exec(select(ScheduleAction.action)).all())
    assert Action.orphan_expired.value in actions
