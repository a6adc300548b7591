"""The scheduler with the real parts: the repository's plan, assembly, the outbox transport and
dispatch. July 2026's theme is built ten days ahead, approved by a person, and sent at its slot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import approve_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus, Delivery, DeliveryStatus
from newsletter.schedule.tick import Lifecycle
from newsletter.schedule.wiring import default_deps, load_plan
from tests.conftest import make_settings
from tests.factories import make_subscriber

JULY_SLOT = datetime(2026, 7, 7, 8, 0, tzinfo=UTC)  # first Tuesday, 09:00 BST
APPROVER = "lead@example.org"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, approvers=[APPROVER])


def test_the_july_bulletin_is_built_ahead_approved_and_sent_at_its_slot_by_the_scheduler(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        for agency in ("health", "police", "education"):
            make_subscriber(session, agency=agency)
        session.commit()
    clock = FakeClock(JULY_SLOT - timedelta(days=10))
    life = Lifecycle(engine, settings, clock=clock, deps=default_deps())

    life.tick()

    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2026-07")).one()
        assert bulletin.status == BulletinStatus.draft
        assert bulletin.send_at == JULY_SLOT
    requests = list((settings.data_dir / "outbox" / "notifications").glob("*.eml"))
    assert len(requests) == 1
    assert "Please approve the 2026-07 bulletin" in requests[0].read_text()

    clock.advance(timedelta(days=1))
    with Session(engine) as session:
        approve_bulletin(
            session, settings, load_plan(settings), "2026-07", by=APPROVER, clock=clock
        )
        session.commit()
    life.tick()  # approved and current: handed to the scheduler
    clock.set(JULY_SLOT)
    life.tick()
    life.tick()

    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2026-07")).one()
        assert bulletin.status == BulletinStatus.sent
        statuses = session.exec(select(Delivery.status)).all()
    assert sorted(statuses) == [DeliveryStatus.sent] * 3
    assert len(list((settings.data_dir / "outbox" / "2026-07").glob("*.eml"))) == 3
    assert len(list((settings.data_dir / "outbox" / "notifications").glob("*.eml"))) == 1
