"""The one writer of events: every write moves the report version of the bulletins it touched,
in the writer's own transaction, and a report that was warm follows it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.dispatch import ledger
from newsletter.eventlog import (
    MachineFlag,
    add_event,
    clear_payloads,
    delete_events,
    flag_machine,
    insert_event_once,
    insert_events,
    note_changed,
)
from newsletter.models import (
    Bulletin,
    BulletinEventsVersion,
    Delivery,
    DeliveryStatus,
    Event,
    EventSource,
    EventType,
    Variant,
    utcnow,
)
from newsletter.reports.measures import sent_counts
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant


def _version(session: Session, bulletin: Bulletin) -> int:
    row = session.get(BulletinEventsVersion, bulletin.id)
    if row is None:
        return 0
    session.refresh(row)
    return row.version


def _sent_delivery(session: Session, month: str = "2026-07") -> Delivery:
    bulletin = make_bulletin(session, month=month)
    variant = make_variant(session, bulletin, agency="health")
    delivery = make_delivery(session, bulletin, make_subscriber(session, agency="health"), variant)
    session.commit()
    return delivery


def _row(delivery: Delivery, **overrides: object) -> dict[str, object]:
    now = utcnow()
    row: dict[str, object] = {
        "delivery_id": delivery.id,
        "bulletin_id": delivery.bulletin_id,
        "agency": delivery.agency,
        "link_id": None,
        "type": str(EventType.open),
        "occurred_at": now,
        "recorded_at": now,
        "source": str(EventSource.web),
        "machine": False,
        "machine_reason": None,
        "rules_version": None,
        "seconds_since_delivery": None,
        "method": "GET",
        "user_agent": None,
        "provider_event_id": None,
        "payload": None,
    }
    row.update(overrides)
    return row


def test_every_kind_of_event_write_moves_the_report_version_of_its_bulletin(
    session: Session,
) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    assert bulletin is not None
    assert delivery.id is not None
    start = _version(session, bulletin)

    add_event(session, Event(**_row(delivery)))  # type: ignore[arg-type]
    session.commit()
    assert _version(session, bulletin) == start + 1

    insert_events(session, [_row(delivery), _row(delivery, type=str(EventType.click))])
    session.commit()
    assert _version(session, bulletin) == start + 2

    flag_machine(
        session,
        [MachineFlag(delivery.bulletin_id, delivery.id, utcnow() - timedelta(hours=1), "burst")],
    )
    session.commit()
    assert _version(session, bulletin) == start + 3
    assert all(e.machine for e in session.exec(select(Event)).all())

    assert delete_events(session, col(Event.type) == EventType.click.value) == 1
    session.commit()
    assert _version(session, bulletin) == start + 4


def test_a_provider_event_stored_twice_moves_the_version_once(session: Session) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    assert bulletin is not None
    start = _version(session, bulletin)
    assert insert_event_once(session, _row(delivery, provider_event_id="sg-1"))
    session.commit()
    assert not insert_event_once(session, _row(delivery, provider_event_id="sg-1"))
    session.commit()
    assert _version(session, bulletin) == start + 1


def test_clearing_payloads_leaves_the_report_version_alone(session: Session) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    assert bulletin is not None
    insert_events(session, [_row(delivery, payload={"email": "a@example.org"})])
    session.commit()
    start = _version(session, bulletin)
    clear_payloads(session, col(Event.delivery_id) == delivery.id)
    session.commit()
    assert _version(session, bulletin) == start
    assert session.exec(select(Event)).one().payload is None


def test_a_bulletin_is_bumped_once_per_transaction_and_again_in_the_next(
    session: Session,
) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    assert bulletin is not None
    start = _version(session, bulletin)
    for _ in range(3):
        insert_events(session, [_row(delivery)])
    session.commit()
    assert _version(session, bulletin) == start + 1
    insert_events(session, [_row(delivery)])
    session.commit()
    assert _version(session, bulletin) == start + 2


def test_a_rolled_back_write_leaves_no_bump_behind_and_the_next_one_still_bumps(
    session: Session,
) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    assert bulletin is not None
    start = _version(session, bulletin)
    insert_events(session, [_row(delivery)])
    session.rollback()
    assert _version(session, bulletin) == start
    insert_events(session, [_row(delivery)])
    session.commit()
    assert _version(session, bulletin) == start + 1


def test_a_write_on_a_connection_bumps_in_that_connections_transaction(engine: Engine) -> None:
    with Session(engine) as session:
        delivery = _sent_delivery(session)
        bulletin_id = delivery.bulletin_id
    with engine.begin() as conn:
        insert_events(conn, [_row(delivery)])
        note_changed(conn, [bulletin_id])  # already bumped in this transaction: no-op
    with Session(engine) as session:
        row = session.get(BulletinEventsVersion, bulletin_id)
        assert row is not None
        assert row.version >= 1
        first = row.version
    with engine.begin() as conn:
        insert_events(conn, [_row(delivery)])
    with Session(engine) as session:
        row = session.get(BulletinEventsVersion, bulletin_id)
        assert row is not None
        assert row.version == first + 1


def test_deliveries_the_ledger_marks_sent_reach_a_warm_report(session: Session) -> None:
    delivery = _sent_delivery(session)
    bulletin = session.get(Bulletin, delivery.bulletin_id)
    variant = session.get(Variant, delivery.variant_id)
    assert bulletin is not None
    assert bulletin.id is not None
    assert variant is not None
    assert sent_counts(session, bulletin_ids=[bulletin.id]) == {(bulletin.id, "health"): 1}
    for _ in range(2):
        subscriber = make_subscriber(session, agency="health")
        make_delivery(
            session, bulletin, subscriber, variant, status=DeliveryStatus.sending, batch=7
        )
    session.commit()
    assert sent_counts(session, bulletin_ids=[bulletin.id]) == {(bulletin.id, "health"): 1}
    ledger.mark_batch_sent(
        session, bulletin_id=bulletin.id, batch=7, provider_message_id="m", now=utcnow()
    )
    session.commit()
    assert sent_counts(session, bulletin_ids=[bulletin.id]) == {(bulletin.id, "health"): 3}
