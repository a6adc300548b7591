"""Property-based: any webhook body parses to events or a clear refusal, and any events are
stored (once) without an exception."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from newsletter.tracking.provider_events import MalformedEvents, parse_events, store_events
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant

NOW = datetime(2026, 7, 2, 9, 0, tzinfo=UTC)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(
    [
        "event",
        "email",
        "timestamp",
        "sg_event_id",
        "delivery_id",
        "bulletin_id",
        "useragent",
        "ip",
        "type",
        "sg_machine_open",
        "url",
    ]
)
VALUES = st.one_of(
    JSON,
    st.sampled_from(
        ["open", "click", "bounce", "spamreport", "unsubscribe", "processed", "1", "2", "-1"]
    ),
)
EVENT = st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), VALUES, max_size=8)


@given(st.binary(max_size=300))
def test_any_body_is_events_or_a_clear_refusal(raw: bytes) -> None:
    try:
        events = parse_events(raw)
    except MalformedEvents as exc:
        refused: MalformedEvents | None = exc
    else:
        refused = None
    if refused is not None:
        assert str(refused)
        return
    assert isinstance(events, list)
    assert all(isinstance(event, dict) for event in events)


@given(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]))
def test_numbers_json_does_not_have_are_refused(number: str) -> None:
    body = f'[{{"event": "open", "timestamp": {number}}}]'.encode()
    with pytest.raises(MalformedEvents, match="not JSON"):
        parse_events(body)


@given(st.lists(EVENT, max_size=5))
def test_any_json_array_of_objects_parses_to_the_same_events(events: list[dict[str, Any]]) -> None:
    assert parse_events(json.dumps(events).encode()) == events


@settings(max_examples=40)
@given(st.lists(EVENT, max_size=5))
def test_any_events_are_stored_without_an_exception_and_only_once(
    session: Session, events: list[dict[str, Any]]
) -> None:
    bulletin = make_bulletin(session)
    variant = make_variant(session, bulletin, agency="health")
    delivery = make_delivery(session, bulletin, make_subscriber(session), variant)
    for event in events:  # some of them point at a real delivery
        if event.get("delivery_id") == "1":
            event["delivery_id"] = str(delivery.id)
    try:
        first = store_events(session, events, mode="individual", now=NOW)
        again = store_events(session, events, mode="individual", now=NOW)
        assert first.received == len(events)
        assert first.stored <= len(events)
        assert again.stored == 0
    finally:
        session.rollback()
