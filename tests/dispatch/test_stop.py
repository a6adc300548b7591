"""A person stops a send: it ends after the batch in flight and stays stopped until a person
resumes it; nobody is sent twice."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.dispatch import DispatchError, send_bulletin, stop_send
from newsletter.models import Bulletin, BulletinStatus
from newsletter.transports.base import Batch, RecipientResult
from newsletter.transports.memory import MemoryTransport
from tests.dispatch.test_dispatch import approved_bulletin, statuses


class StoppedDuringFirstBatch(MemoryTransport):
    """While the first batch is with the provider, a person presses "stop" elsewhere."""

    def __init__(self, engine: Engine, month: str, clock: FakeClock) -> None:
        super().__init__(max_batch=2)
        self.engine = engine
        self.month = month
        self.clock = clock

    def send(self, batch: Batch) -> list[RecipientResult]:
        if not self.sent:
            with Session(self.engine) as other:
                stop_send(other, self.month, clock=self.clock)
                other.commit()
        return super().send(batch)


def status_of(session: Session, bulletin: Bulletin) -> BulletinStatus:
    session.expire_all()
    fresh = session.get(Bulletin, bulletin.id)
    assert fresh is not None
    session.commit()
    return BulletinStatus(fresh.status)


def test_a_stopped_send_ends_after_the_batch_in_flight_and_stays_stopped(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 6})
    transport = StoppedDuringFirstBatch(engine, bulletin.month, clock)

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.stopped is not None
    assert summary.stopped.startswith("stopped by a person")
    assert len(transport.sent) == 2
    assert statuses(session, bulletin) == Counter({"sent": 2, "pending": 4})
    assert status_of(session, bulletin) is BulletinStatus.stopped


def test_nothing_but_a_person_resumes_a_stopped_send_and_nobody_gets_two(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 6})
    transport = StoppedDuringFirstBatch(engine, bulletin.month, clock)
    send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    # The scheduler (or anyone not saying "resume") is refused and changes nothing.
    with pytest.raises(DispatchError, match="stopped by a person; only a person resumes it"):
        send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)
    assert status_of(session, bulletin) is BulletinStatus.stopped

    resumed = send_bulletin(
        engine, settings, bulletin.month, transport=transport, clock=clock, resume_stopped=True
    )

    assert resumed.status is BulletinStatus.sent
    assert Counter(m.to for m in transport.sent).most_common(1)[0][1] == 1
    assert len(transport.sent) == 6


def test_only_a_send_under_way_can_be_stopped(session: Session, clock: FakeClock) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 1})

    with pytest.raises(DispatchError, match="only a send can be stopped"):
        stop_send(session, bulletin.month, clock=clock)
