"""The report cache follows events written by the tracking writers: the group-commit recorder
(clicks, late machine flags) and the SendGrid webhook."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.models import EventType
from newsletter.tracking import EventRecord, Recorder, store_events
from tests.reports.fixture import LATE, SENT, build_july
from tests.reports.test_cache import _delivery, _icon_health, _warm_equals_cold


def _numbers(session: Session) -> tuple[object, ...]:
    row = _icon_health(session)
    session.commit()  # end the read (SQLite: let the recorder's connection write)
    keys = ("clickers", "clickers_raw", "clicks", "clicks_raw", "opens", "opens_raw", "bounced")
    return tuple(row[k] for k in keys)


def test_the_recorders_clicks_and_late_machine_flags_reach_the_next_report(
    session: Session, engine: Engine
) -> None:
    july = build_july(session)
    assert _numbers(session) == (4, 5, 6, 8, 2, 3, 1)
    h1, h4 = _delivery(session, july, 0), _delivery(session, july, 3)
    icon1 = july.link_ids["icon1"]
    session.commit()
    recorder = Recorder(engine)
    try:
        recorder.record(
            EventRecord(
                type=EventType.click,
                occurred_at=LATE,
                delivery_id=h4.id,
                bulletin_id=july.bulletin.id,
                agency="health",
                link_id=icon1,
            )
        )
        assert _numbers(session) == (5, 6, 7, 9, 2, 3, 1)
        # A honeypot hit: h1's events since the send were a machine's, the open included.
        recorder.record(
            EventRecord(
                type=EventType.click,
                occurred_at=LATE + timedelta(hours=1),
                delivery_id=h1.id,
                bulletin_id=july.bulletin.id,
                agency="health",
                link_id=icon1,
                machine=True,
                machine_reason="honeypot",
                rules_version="v1",
                flag_since=SENT,
            )
        )
    finally:
        recorder.close()
    assert _numbers(session) == (4, 6, 4, 10, 1, 3, 1)
    _warm_equals_cold(session)


def test_webhook_events_reach_the_next_report_once(session: Session) -> None:
    july = build_july(session)
    assert _numbers(session)[-1] == 1
    bounce = {
        "event": "bounce",
        "type": "bounce",
        "delivery_id": str(_delivery(session, july, 3).id),
        "bulletin_id": str(july.bulletin.id),
        "timestamp": int(LATE.timestamp()),
        "sg_event_id": "sg-bounce-1",
    }
    for _ in range(2):  # SendGrid retries: stored once
        store_events(session, [bounce], mode="individual", now=LATE)
        session.commit()
        assert _numbers(session)[-1] == 2
    _warm_equals_cold(session)
