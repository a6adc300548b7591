"""The report cache: cold, warm and after every kind of write, the numbers of a fresh aggregate.

Events are written here only through the writers the service uses (the test factory writes
through ``newsletter.eventlog`` as they do); a writer that bypassed it would leave a warm
report behind the cold one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.event import listen, remove
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.eventlog import note_changed
from newsletter.models import (
    Delivery,
    Event,
    EventSource,
    EventType,
    LinkKind,
    ReportCache,
    ReportCacheReason,
    ReportCacheState,
    RollupLevel,
    Subscriber,
)
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.cache import refresh_report_cache
from newsletter.reports.formats import bulletin_text, training_text
from newsletter.reports.measures import engagement
from newsletter.reports.public import Value, training_records
from newsletter.reports.rollup import roll_up_events
from newsletter.reports.training import ALL_KINDS, build_training_report
from newsletter.subscribers.changes import unsubscribe
from tests.conftest import REPO
from tests.factories import make_bulletin, make_delivery, make_event, make_subscriber, make_variant
from tests.plan_factories import make_plan, with_digest
from tests.reports.fixture import CUT, LATE, July, build_july


def _everything(session: Session) -> tuple[str, str]:
    training = build_training_report(session, kinds=ALL_KINDS)
    bulletin = build_bulletin_report(session, month="2026-07")
    return (
        training_text(training, fmt="json", min_count=0),
        bulletin_text(bulletin, fmt="json", min_count=0),
    )


def _forget_cache(session: Session) -> None:
    for table in (ReportCache, ReportCacheReason, ReportCacheState):
        session.execute(delete(table))
    session.commit()


def _warm_equals_cold(session: Session) -> tuple[str, str]:
    """The report from the cache as it stands, checked against one computed from nothing."""
    warm = _everything(session)
    _forget_cache(session)
    assert _everything(session) == warm
    return warm


def _icon_health(session: Session) -> dict[str, Value]:
    report = build_training_report(session)
    rows = {(r["course_id"], r["agency"]): r for r in training_records(report, 0)}
    return rows[("icon", "health")]


def _delivery(session: Session, july: July, position: int) -> Delivery:
    """The health delivery made ``position``-th in the fixture (h1 is 0)."""
    rows = session.exec(
        select(Delivery)
        .where(col(Delivery.bulletin_id) == july.bulletin.id, col(Delivery.agency) == "health")
        .order_by(col(Delivery.id))
    ).all()
    return rows[position]


def test_cold_and_warm_caches_give_the_same_reports(session: Session) -> None:
    july = build_july(session)
    cold = _everything(session)
    assert july.bulletin.id is not None
    assert refresh_report_cache(session, [july.bulletin.id]) == []  # warm: nothing to redo
    assert _everything(session) == cold
    assert _warm_equals_cold(session) == cold


def test_only_bulletins_whose_events_changed_are_recomputed(session: Session) -> None:
    july = build_july(session)
    august = make_bulletin(session, month="2026-08")
    variant = make_variant(session, august, agency="health")
    subscriber = make_subscriber(session, agency="health")
    make_event(session, make_delivery(session, august, subscriber, variant), type=EventType.open)
    session.commit()
    assert july.bulletin.id is not None
    assert august.id is not None
    ids = [july.bulletin.id, august.id]
    assert sorted(refresh_report_cache(session, ids)) == sorted(ids)
    assert refresh_report_cache(session, ids) == []
    make_event(session, _delivery(session, july, 3), type=EventType.open)
    session.commit()
    assert refresh_report_cache(session, ids) == [july.bulletin.id]


def test_a_new_click_changes_the_next_report(session: Session) -> None:
    july = build_july(session)
    before = _icon_health(session)
    assert (before["clickers"], before["clicks"], before["clicks_raw"]) == (4, 6, 8)
    # h4 had only a machine open; now a person clicks the ICON course.
    make_event(
        session, _delivery(session, july, 3), type=EventType.click, link_id=july.link_ids["icon1"]
    )
    session.commit()
    after = _icon_health(session)
    assert (after["clickers"], after["clicks"], after["clicks_raw"]) == (5, 7, 9)
    _warm_equals_cold(session)


def test_a_machine_flag_set_afterwards_changes_the_next_report(session: Session) -> None:
    july = build_july(session)
    assert _icon_health(session)["clickers"] == 4
    # h1's three clicks turn out to be a link scanner's (a rule learned later).
    h1 = _delivery(session, july, 0)
    session.execute(
        update(Event)
        .where(col(Event.delivery_id) == h1.id, col(Event.type) == EventType.click.value)
        .values(machine=True, machine_reason="late-scanner", rules_version="v2")
    )
    note_changed(session, [july.bulletin.id])
    session.commit()
    after = _icon_health(session)
    assert (after["clickers"], after["clickers_raw"]) == (3, 5)
    assert (after["clicks"], after["clicks_raw"]) == (3, 8)
    rules = build_bulletin_report(session, month="2026-07").machine_rules
    assert ("v2", "late-scanner", 3) in {(r.rules_version, r.reason, r.events) for r in rules}
    _warm_equals_cold(session)


def test_an_unsubscribe_changes_the_next_report(session: Session) -> None:
    july = build_july(session)
    police = {r.agency: r for r in build_bulletin_report(session, month="2026-07").reach}
    assert police["police"].unsubscribes.unique_all == 1
    delivery = session.exec(
        select(Delivery)
        .where(col(Delivery.agency) == "police", col(Delivery.bulletin_id) == july.bulletin.id)
        .order_by(col(Delivery.id).desc())
    ).first()
    assert delivery is not None
    subscriber = session.get(Subscriber, delivery.subscriber_id)
    assert subscriber is not None
    assert unsubscribe(
        session,
        subscriber,
        now=LATE + timedelta(days=1),
        source=EventSource.web,
        bulletin_id=july.bulletin.id,
        delivery_id=delivery.id,
    )
    session.commit()
    reach = {r.agency: r for r in build_bulletin_report(session, month="2026-07").reach}
    assert reach["police"].unsubscribes.unique_all == 2
    _warm_equals_cold(session)


def test_a_roll_up_after_a_warm_report_keeps_every_number(session: Session) -> None:
    build_july(session)
    before = _everything(session)
    roll_up_events(session, before=CUT)
    session.commit()
    assert _everything(session) == before
    _warm_equals_cold(session)


def test_counts_of_a_type_the_cache_does_not_keep_are_refused_not_zero(session: Session) -> None:
    july = build_july(session)
    assert july.bulletin.id is not None
    with pytest.raises(ValueError, match="delivered"):
        engagement(
            session,
            level=RollupLevel.bulletin,
            bulletin_ids=[july.bulletin.id],
            types=["delivered"],
        )


def test_a_rebuild_that_withdraws_archive_visits_changes_the_next_report(
    session: Session, settings: Settings, clock: FakeClock
) -> None:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    plan = make_plan()
    built = build_bulletin(session, settings, plan, "2026-07", clock=clock)
    course = next(link for link in built.links if link.kind == LinkKind.course)
    # A visit to the web archive: a click of no delivery, counted at agency level.
    session.add(
        Event(
            bulletin_id=built.bulletin.id,
            agency="health",
            link_id=course.id,
            type=EventType.click,
            occurred_at=clock.now(),
        )
    )
    note_changed(session, [built.bulletin.id])
    session.commit()

    def clicks() -> int:
        report = build_bulletin_report(session, month="2026-07")
        session.commit()
        return sum(line.clicks.events_all for line in report.links)

    assert clicks() == 1
    build_bulletin(session, settings, with_digest(plan, "c" * 64), "2026-07", clock=clock)
    session.commit()
    assert clicks() == 0
    _warm_equals_cold(session)


# SQLite has one writer at a time: no event can commit during a refresh there.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_event_committed_while_the_cache_is_computed_is_picked_up_by_the_next_report(
    session: Session, engine: Engine
) -> None:
    july = build_july(session)
    assert july.bulletin.id is not None
    h4 = _delivery(session, july, 3)
    session.commit()
    before = _icon_health(session)
    session.commit()

    def click_meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # After the refresh read the versions, before it aggregates: a click commits.
        if statement.startswith("INSERT INTO report_cache ") and not done:
            done.append(True)
            with Session(engine) as other:
                make_event(other, h4, type=EventType.click, link_id=july.link_ids["icon1"])
                other.commit()

    done: list[bool] = []
    note_changed(session, [july.bulletin.id])  # make the next report recompute
    session.commit()
    listen(engine, "before_cursor_execute", click_meanwhile)
    try:
        refresh_report_cache(session, [july.bulletin.id])
    finally:
        remove(engine, "before_cursor_execute", click_meanwhile)
    assert done
    # The click may or may not be in what was just cached; the next report has it for sure.
    assert refresh_report_cache(session, [july.bulletin.id]) == [july.bulletin.id]
    after = _icon_health(session)
    assert (after["clicks"], after["clickers"]) == (
        cast(int, before["clicks"]) + 1,
        cast(int, before["clickers"]) + 1,
    )
    _warm_equals_cold(session)
