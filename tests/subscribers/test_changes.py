"""Unsubscribe, preferences, erasure, subject access, export and the sample list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.config import Settings
from newsletter.models import (
    Delivery,
    Event,
    EventSource,
    EventType,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers import (
    Preferences,
    SubscriberError,
    erase,
    export_csv,
    find_by_email,
    find_by_token,
    import_csv,
    iter_subscribers,
    load_sample,
    resubscribe,
    set_preferences,
    stop_sending,
    subject_access,
    suppress,
    unsubscribe,
)
from newsletter.tokens import address_hash
from tests.conftest import REPO
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_event,
    make_subscriber,
    make_variant,
)

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def agencies(session: Session) -> Session:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    session.commit()
    return session


def events_of(session: Session, kind: EventType) -> list[Event]:
    return list(session.exec(select(Event).where(col(Event.type) == kind)).all())


def test_unsubscribing_records_one_agency_level_event_and_is_safe_to_repeat(
    agencies: Session,
) -> None:
    jo = make_subscriber(agencies, agency="police")
    assert unsubscribe(agencies, jo, now=NOW, source=EventSource.system)
    assert not unsubscribe(agencies, jo, now=NOW, source=EventSource.system)
    agencies.commit()
    assert jo.status == SubscriberStatus.unsubscribed
    [event] = events_of(agencies, EventType.unsubscribe)
    assert (event.agency, event.source, event.delivery_id) == ("police", "system", None)


def test_a_bounced_subscriber_is_not_turned_into_an_unsubscriber(agencies: Session) -> None:
    jo = make_subscriber(agencies, status=SubscriberStatus.bounced)
    assert not unsubscribe(agencies, jo, now=NOW, source=EventSource.web)
    assert jo.status == SubscriberStatus.bounced
    assert events_of(agencies, EventType.unsubscribe) == []


def test_an_address_is_found_in_any_spelling(agencies: Session) -> None:
    jo = make_subscriber(agencies, email="jo@x.org")
    assert find_by_email(agencies, "  JO@X.Org ") is jo
    assert find_by_email(agencies, "not an address") is None


def test_a_token_finds_its_subscriber_but_not_once_erased(agencies: Session) -> None:
    jo = make_subscriber(agencies)
    token = jo.token
    assert find_by_token(agencies, token) is jo
    assert find_by_token(agencies, token + "x") is None
    assert find_by_token(agencies, "") is None
    erase(agencies, jo, now=NOW)
    assert find_by_token(agencies, token) is None
    assert find_by_token(agencies, jo.token) is None


def test_preferences_change_agency_and_audiences(agencies: Session) -> None:
    jo = make_subscriber(agencies, agency="police", serves_children=True, serves_adults=False)
    assert set_preferences(agencies, jo, Preferences("health", False, True), now=NOW)
    assert not set_preferences(agencies, jo, Preferences("health", False, True), now=NOW)
    assert (jo.agency, jo.audiences) == ("health", ["adults"])


@pytest.mark.parametrize(
    ("prefs", "message"),
    [
        (Preferences("fire-brigade", True, False), "unknown agency"),
        (Preferences("police", False, False), "at least one audience"),
    ],
)
def test_bad_preferences_are_refused(agencies: Session, prefs: Preferences, message: str) -> None:
    jo = make_subscriber(agencies, agency="health")
    with pytest.raises(SubscriberError, match=message):
        set_preferences(agencies, jo, prefs, now=NOW)
    assert jo.agency == "health"


def test_only_an_unsubscribed_unsuppressed_person_can_come_back(agencies: Session) -> None:
    jo = make_subscriber(agencies, status=SubscriberStatus.unsubscribed)
    sam = make_subscriber(agencies, status=SubscriberStatus.unsubscribed)
    suppress(agencies, sam.address_hash or "", reason="complained")
    bounced = make_subscriber(agencies, status=SubscriberStatus.bounced)
    assert resubscribe(agencies, jo, now=NOW, source="preference centre")
    assert not resubscribe(agencies, sam, now=NOW, source="preference centre")
    assert not resubscribe(agencies, bounced, now=NOW, source="preference centre")
    assert (jo.status, jo.consent_source) == (SubscriberStatus.active, "preference centre")
    assert sam.status == SubscriberStatus.unsubscribed


def _agency_totals(session: Session) -> tuple[list[tuple[str, int]], list[tuple[str, str, int]]]:
    deliveries = session.exec(
        select(Delivery.agency, func.count())
        .group_by(col(Delivery.agency))
        .order_by(col(Delivery.agency))
    ).all()
    events = session.exec(
        select(Delivery.agency, Event.type, func.count())
        .join(Delivery, col(Delivery.id) == col(Event.delivery_id))
        .group_by(col(Delivery.agency), col(Event.type))
        .order_by(col(Delivery.agency), col(Event.type))
    ).all()
    return [tuple(r) for r in deliveries], [tuple(r) for r in events]  # type: ignore[misc]


def test_erasure_removes_personal_data_and_keeps_agency_level_totals(agencies: Session) -> None:
    bulletin = make_bulletin(agencies)
    variant = make_variant(agencies, bulletin, agency="police")
    jo = make_subscriber(agencies, email="jo@x.org", name="Jo Bloggs", agency="police")
    sam = make_subscriber(agencies, agency="police")
    for person in (jo, sam):
        delivery = make_delivery(agencies, bulletin, person, variant)
        make_event(agencies, delivery, type=EventType.open)
        make_event(agencies, delivery, type=EventType.click, payload={"email": person.email})
    agencies.commit()
    before = _agency_totals(agencies)
    old_token, jo_id = jo.token, jo.id

    erase(agencies, jo, now=NOW)
    agencies.commit()
    agencies.expire_all()

    assert _agency_totals(agencies) == before
    row = agencies.get(Subscriber, jo_id)
    assert row is not None
    assert (row.email, row.address_hash, row.name, row.consent_source, row.consent_at) == (
        None,
        None,
        "",
        "",
        None,
    )
    assert row.status == SubscriberStatus.erased
    assert row.token != old_token
    assert agencies.get(Suppression, address_hash("jo@x.org")).reason == "erased"  # type: ignore[union-attr]
    orphan = agencies.exec(select(Delivery).where(col(Delivery.subscriber_id).is_(None))).one()
    assert orphan.agency == "police"
    payloads = agencies.exec(select(Event.payload).where(col(Event.delivery_id) == orphan.id)).all()
    assert payloads == [None, None]
    assert agencies.exec(select(func.count()).select_from(Event)).one() == 4
    # Sam's own data is untouched.
    assert agencies.exec(select(Delivery).where(Delivery.subscriber_id == sam.id)).one()


def test_subject_access_lists_everything_held(agencies: Session) -> None:
    bulletin = make_bulletin(agencies, month="2026-07")
    variant = make_variant(agencies, bulletin, agency="health")
    jo = make_subscriber(agencies, agency="health")
    delivery = make_delivery(agencies, bulletin, jo, variant)
    make_event(agencies, delivery, type=EventType.open)
    make_event(agencies, delivery, type=EventType.click)
    make_event(agencies, delivery, type=EventType.click)
    held = subject_access(agencies, jo)
    assert held.subscriber is jo
    assert held.suppressed is None
    assert [(d.month, d.agency, d.status) for d in held.deliveries] == [
        ("2026-07", "health", "sent")
    ]
    assert held.events == {"click": 2, "open": 1}


def test_an_export_re_imports_unchanged_and_guards_against_formulas(
    agencies: Session, tmp_path: Path
) -> None:
    make_subscriber(agencies, email="a@x.org", name="=HYPERLINK(1)", agency="police")
    make_subscriber(agencies, email="b@x.org", name="Bo", serves_adults=True, agency="health")
    make_subscriber(agencies, email="c@x.org", status=SubscriberStatus.unsubscribed)
    erased = make_subscriber(agencies, email="d@x.org")
    erase(agencies, erased, now=NOW)
    agencies.commit()
    out = io.StringIO()
    assert export_csv(agencies, out) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == "email,name,agency,audiences,status"
    assert lines[1] == "a@x.org,'=HYPERLINK(1),police,children,active"
    assert lines[2] == "b@x.org,Bo,health,children;adults,active"
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    report = import_csv(agencies, path, now=NOW, consent_source="t")
    assert (report.unchanged, report.kept_out, report.added, report.updated) == (2, 1, 0, 0)


def test_an_export_guards_every_text_column_and_the_guarded_file_re_imports(
    agencies: Session, tmp_path: Path
) -> None:
    # A valid address can start with = or + (RFC 5322 atext); a spreadsheet would run it.
    make_subscriber(agencies, email="=cmd@x.org", name="+SUM(A1)", agency="police")
    make_subscriber(agencies, email="-2+3@x.org", name="@risk", agency="police")
    agencies.commit()
    out = io.StringIO()
    assert export_csv(agencies, out) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert rows == [
        ["'=cmd@x.org", "'+SUM(A1)", "police", "children", "active"],
        ["'-2+3@x.org", "'@risk", "police", "children", "active"],
    ]
    for row in rows:
        assert not any(cell[:1] in "=+-@\t\r" and cell for cell in row)
    path = tmp_path / "export.csv"
    path.write_text(out.getvalue(), encoding="utf-8", newline="")
    report = import_csv(agencies, path, now=NOW, consent_source="t")
    assert (report.unchanged, report.rejected, report.added) == (2, 0, 0)


def test_listing_filters_by_agency_and_status_and_hides_the_erased(agencies: Session) -> None:
    a = make_subscriber(agencies, agency="police")
    b = make_subscriber(agencies, agency="health")
    c = make_subscriber(agencies, agency="police", status=SubscriberStatus.unsubscribed)
    d = make_subscriber(agencies, agency="police")
    erase(agencies, d, now=NOW)

    def ids(**filters: Any) -> list[int | None]:
        return [s.id for s in iter_subscribers(agencies, batch=2, **filters)]

    assert ids() == [a.id, b.id, c.id]
    assert ids(agency="police") == [a.id, c.id]
    assert ids(status=SubscriberStatus.unsubscribed) == [c.id]
    assert ids(status=SubscriberStatus.erased) == [d.id]


def test_the_sample_loads_all_agencies_once(session: Session, settings: Settings) -> None:
    first = load_sample(session, settings)
    session.commit()
    second = load_sample(session, settings)
    session.commit()
    assert (first.added, first.rejected) == (150, 0)
    assert (second.added, second.unchanged) == (0, 150)
    agencies = session.exec(select(Subscriber.agency).distinct()).all()
    assert len(agencies) == 9
    domains = {e.rpartition("@")[2] for e in session.exec(select(Subscriber.email)).all() if e}
    assert all(d == "example.com" or d.endswith(".example.org") for d in domains)


def test_a_bounce_suppresses_the_address_and_stops_sending(agencies: Session) -> None:
    jo = make_subscriber(agencies, email="jo@x.org")
    statuses = []
    for status in (SubscriberStatus.bounced, SubscriberStatus.complained):
        assert stop_sending(agencies, jo, status=status, now=NOW)
        statuses.append(jo.status)
    # A later complaint is the stronger reason; the first suppression reason stays.
    assert statuses == [SubscriberStatus.bounced, SubscriberStatus.complained]
    suppression = agencies.get(Suppression, address_hash("jo@x.org"))
    assert suppression is not None
    assert suppression.reason == "bounced"


def test_a_bounce_does_not_overwrite_an_unsubscribe(agencies: Session) -> None:
    jo = make_subscriber(agencies, status=SubscriberStatus.unsubscribed)
    assert not stop_sending(agencies, jo, status=SubscriberStatus.bounced, now=NOW)
    assert jo.status == SubscriberStatus.unsubscribed
    assert agencies.get(Suppression, jo.address_hash or "") is not None


def test_stop_sending_takes_only_bounced_or_complained(agencies: Session) -> None:
    jo = make_subscriber(agencies)
    with pytest.raises(ValueError, match="bounced or complained"):
        stop_sending(agencies, jo, status=SubscriberStatus.erased, now=NOW)
