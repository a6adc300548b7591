"""The registry's cached lookups: a bulletin's sent deliveries come together on the first one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from newsletter.models import DeliveryStatus
from newsletter.tracking.registry import Registry
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant


class Queries:
    """Counts the SELECTs run on any engine (the registry may open a lookup engine)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> Queries:
        event.listen(Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            self.count += 1


def _bulletin(session: Session, sent: int, pending: int = 0) -> list[int]:
    bulletin = make_bulletin(session, status="sent")
    variant = make_variant(session, bulletin, agency="health")
    ids = []
    for n in range(sent + pending):
        delivery = make_delivery(
            session,
            bulletin,
            make_subscriber(session, agency="health"),
            variant,
            **({} if n < sent else {"status": DeliveryStatus.pending, "sent_at": None}),
        )
        assert delivery.id is not None
        ids.append(delivery.id)
    session.commit()
    return ids


def test_the_first_delivery_looked_up_brings_its_bulletins_other_sent_deliveries(
    engine: Engine, session: Session
) -> None:
    sent = _bulletin(session, sent=5, pending=1)
    other = _bulletin(session, sent=2)
    registry = Registry(engine)
    try:
        with Queries() as queries:
            first = registry.delivery(sent[0])
        assert first is not None
        assert first.sent_at is not None
        assert queries.count == 2  # the delivery, then its bulletin's sent deliveries
        with Queries() as queries:
            looked_up = [registry.delivery(d) for d in sent[1:5]]
        assert queries.count == 0
        assert [d.id for d in looked_up if d is not None] == sent[1:5]
        assert {d.bulletin_id for d in looked_up if d is not None} == {first.bulletin_id}
        with Queries() as queries:
            pending = registry.delivery(sent[5])  # not sent: looked up every time
            assert registry.delivery(sent[5]) == pending
            assert registry.delivery(other[0]) is not None  # another bulletin: loaded in turn
            assert registry.delivery(other[1]) is not None
        assert pending is not None
        assert pending.sent_at is None
        assert queries.count == 4
    finally:
        registry.close()


def test_a_bulletin_too_big_for_the_cache_is_looked_up_one_delivery_at_a_time(
    engine: Engine, session: Session
) -> None:
    sent = _bulletin(session, sent=3)
    registry = Registry(engine, deliveries=8)  # loads bulletins of at most 2 deliveries
    try:
        with Queries() as queries:
            assert registry.delivery(sent[0]) is not None
            assert registry.delivery(sent[1]) is not None
            assert registry.delivery(sent[1]) is not None  # cached once looked up
        assert queries.count == 3  # sent[0], the bulletin (too many: not kept), sent[1]
    finally:
        registry.close()
