"""POST /webhooks/sendgrid: signatures, malformed bodies, de-duplication, order, suppression."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.clock import FakeClock
from newsletter.models import (
    Bulletin,
    Delivery,
    DeliveryStatus,
    Event,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers import normalise_email
from newsletter.tokens import address_hash
from newsletter.tracking.provider_events import SIGNATURE_HEADER, TIMESTAMP_HEADER
from newsletter.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant

VECTOR = json.loads(Path("/work/shared/vectors/sendgrid-signed-webhook.json").read_text())


class Signer:
    """A P-256 key pair like SendGrid's, signing timestamp + raw body."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: str) -> dict[str, str]:
        signature = self._key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: timestamp,
            "Content-Type": "application/json",
        }


@dataclass
class World:
    client: TestClient
    signer: Signer
    engine: Engine
    clock: FakeClock
    bulletin: Bulletin
    delivery: Delivery
    subscriber: Subscriber

    def post(self, events: list[dict[str, Any]] | bytes, **headers: str) -> Any:
        body = events if isinstance(events, bytes) else json.dumps(events).encode()
        stamp = str(int(self.clock.now().timestamp()))
        signed = self.signer.headers(body, stamp)
        signed.update(headers)
        return self.client.post("/webhooks/sendgrid", content=body, headers=signed)

    def event(self, name: str, sg_id: str, **extra: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "email": self.subscriber.email,
            "event": name,
            "sg_event_id": sg_id,
            "sg_message_id": "msg.1",
            "timestamp": int(self.clock.now().timestamp()),
            "delivery_id": str(self.delivery.id),
            "bulletin_id": str(self.bulletin.id),
        }
        base.update(extra)
        return base

    def events(self) -> list[Event]:
        with Session(self.engine) as s:
            return list(s.exec(select(Event).order_by(col(Event.id))).all())

    def subscriber_status(self) -> str:
        with Session(self.engine) as s:
            row = s.get(Subscriber, self.subscriber.id)
            assert row is not None
            return row.status


def build_world(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    **settings_overrides: Any,
) -> Iterator[World]:
    signer = Signer()
    settings_overrides.setdefault("sendgrid_webhook_public_key", signer.public_key)
    settings = make_settings(tmp_path, database_url=database_url, **settings_overrides)
    bulletin = make_bulletin(session, month="2026-07")
    variant = make_variant(session, bulletin, agency="health")
    subscriber = make_subscriber(session, agency="health", email="ann@nhs.example")
    delivery = make_delivery(
        session,
        bulletin,
        subscriber,
        variant,
        status=DeliveryStatus.unknown,
        sent_at=None,
    )
    session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        yield World(client, signer, engine, clock, bulletin, delivery, subscriber)


@pytest.fixture
def world(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> Iterator[World]:
    yield from build_world(tmp_path, database_url, engine, session, clock)


def test_sendgrids_own_signed_vector_is_accepted_and_kept_as_unmatched(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for w in build_world(
        tmp_path,
        database_url,
        engine,
        session,
        clock,
        sendgrid_webhook_public_key=VECTOR["public_key"],
    ):
        response = w.client.post(
            "/webhooks/sendgrid",
            content=VECTOR["payload"].encode(),
            headers=VECTOR["headers"],
        )
        assert response.status_code == 200
        [event] = w.events()
        assert (event.type, event.delivery_id, event.source) == ("dropped", None, "sendgrid")
        assert event.provider_event_id == VECTOR["events_decoded"][0]["sg_event_id"]
        assert event.payload == VECTOR["events_decoded"][0]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature headers at all
        {SIGNATURE_HEADER: VECTOR["negative_vectors"]["wrong_signature"]},
        {TIMESTAMP_HEADER: "1600112503"},  # signed at another time
        {SIGNATURE_HEADER: "not base64 !!"},
    ],
)
def test_a_bad_or_missing_signature_answers_403_and_stores_nothing(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    headers: dict[str, str],
) -> None:
    for w in build_world(
        tmp_path,
        database_url,
        engine,
        session,
        clock,
        sendgrid_webhook_public_key=VECTOR["public_key"],
    ):
        sent = {k: v for k, v in VECTOR["headers"].items() if headers}
        sent.update(headers)
        response = w.client.post(
            "/webhooks/sendgrid", content=VECTOR["payload"].encode(), headers=sent
        )
        assert response.status_code == 403
        assert w.events() == []


def test_an_altered_body_answers_403(world: World) -> None:
    body = json.dumps([world.event("delivered", "e1")]).encode()
    headers = world.signer.headers(body, "1782892800")
    tampered = body.replace(b"delivered", b"bounce\x20\x20\x20")
    response = world.client.post("/webhooks/sendgrid", content=tampered, headers=headers)
    assert response.status_code == 403
    assert world.events() == []


def test_the_wrong_public_key_answers_403(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for w in build_world(
        tmp_path,
        database_url,
        engine,
        session,
        clock,
        sendgrid_webhook_public_key=VECTOR["negative_vectors"]["wrong_public_key"],
    ):
        response = w.client.post(
            "/webhooks/sendgrid", content=VECTOR["payload"].encode(), headers=VECTOR["headers"]
        )
        assert response.status_code == 403


def test_with_no_key_configured_every_post_is_refused_and_the_log_says_why(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for w in build_world(
        tmp_path, database_url, engine, session, clock, sendgrid_webhook_public_key=None
    ):
        with caplog.at_level(logging.WARNING):
            response = w.post([w.event("delivered", "e1")])
        assert response.status_code == 403
        assert "NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not set" in caplog.text
        assert w.events() == []


def test_verification_can_be_turned_off_deliberately(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for w in build_world(
        tmp_path,
        database_url,
        engine,
        session,
        clock,
        sendgrid_webhook_public_key=None,
        sendgrid_webhook_verify=False,
    ):
        body = json.dumps([w.event("delivered", "e1")]).encode()
        response = w.client.post("/webhooks/sendgrid", content=body)
        assert response.status_code == 200
        assert [e.type for e in w.events()] == ["delivered"]


def test_max_age_bounds_the_signed_timestamp(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for w in build_world(
        tmp_path, database_url, engine, session, clock, sendgrid_webhook_max_age=300
    ):
        body = json.dumps([w.event("delivered", "e1")]).encode()
        old = str(int((clock.now() - timedelta(minutes=10)).timestamp()))
        fresh = str(int((clock.now() - timedelta(minutes=2)).timestamp()))
        stale = w.client.post(
            "/webhooks/sendgrid", content=body, headers=w.signer.headers(body, old)
        )
        assert stale.status_code == 403
        assert w.events() == []
        ok = w.client.post(
            "/webhooks/sendgrid", content=body, headers=w.signer.headers(body, fresh)
        )
        assert ok.status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"[{", b"not json", b'{"event": "open"}', b'["open"]', b""],
)
def test_malformed_json_answers_400_and_stores_nothing(world: World, body: bytes) -> None:
    response = world.post(body)
    assert response.status_code == 400
    assert world.events() == []


def test_events_map_to_deliveries_and_a_redelivered_batch_is_stored_once(world: World) -> None:
    batch = [
        world.event("processed", "p1"),
        world.event("delivered", "d1"),
        world.event("open", "o1", useragent="Mozilla/5.0 (iPhone) AppleWebKit Mobile"),
    ]
    assert world.post(batch).json() == {"received": 3, "stored": 3, "unmatched": 0}
    assert world.post(batch).json() == {"received": 3, "stored": 0, "unmatched": 0}
    stored = world.events()
    assert [e.type for e in stored] == ["processed", "delivered", "open"]
    assert {e.delivery_id for e in stored} == {world.delivery.id}
    assert {e.agency for e in stored} == {"health"}


def test_a_signed_batch_without_sg_event_id_posted_three_times_is_stored_once(
    world: World,
) -> None:
    batch = [world.event("open", "x"), world.event("click", "x", url="https://example.org/")]
    for event in batch:
        del event["sg_event_id"]
    answers = [world.post(batch).json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [2, 0, 0]
    stored = world.events()
    assert [e.type for e in stored] == ["open", "click"]
    assert all((e.provider_event_id or "").startswith("content:") for e in stored)


def test_events_without_ids_that_differ_in_any_field_are_both_kept(world: World) -> None:
    first = world.event("open", "x")
    second = world.event("open", "x", timestamp=first["timestamp"] + 1)
    for event in (first, second):
        del event["sg_event_id"]
    assert world.post([first, second]).json()["stored"] == 2


def test_an_unknown_delivery_becomes_sent_whatever_order_its_events_arrive_in(
    world: World,
) -> None:
    world.post([world.event("open", "o1"), world.event("delivered", "d1")])
    world.post([world.event("processed", "p1")])
    with Session(world.engine) as s:
        delivery = s.get(Delivery, world.delivery.id)
        assert delivery is not None
        assert delivery.status == DeliveryStatus.sent
        assert delivery.sent_at is not None


def test_processed_confirms_a_delivery_left_unknown(world: World) -> None:
    world.post([world.event("processed", "p1")])
    with Session(world.engine) as s:
        delivery = s.get(Delivery, world.delivery.id)
        assert delivery is not None
        assert delivery.status == DeliveryStatus.sent


def test_a_hard_bounce_suppresses_the_subscriber(world: World) -> None:
    world.post([world.event("bounce", "b1", type="bounce", reason="550 no such user")])
    assert world.subscriber_status() == SubscriberStatus.bounced
    with Session(world.engine) as s:
        row = s.get(Suppression, address_hash("ann@nhs.example"))
        assert row is not None
        assert row.reason == "bounce"


def test_a_blocked_bounce_is_stored_but_suppresses_nobody(world: World) -> None:
    world.post([world.event("bounce", "b1", type="blocked", reason="IP blocked")])
    assert world.subscriber_status() == SubscriberStatus.active
    assert [e.type for e in world.events()] == ["bounce"]
    with Session(world.engine) as s:
        assert s.exec(select(Suppression)).all() == []


def test_a_spam_report_marks_the_subscriber_complained_even_after_unsubscribing(
    world: World,
) -> None:
    world.post([world.event("unsubscribe", "u1")])
    assert world.subscriber_status() == SubscriberStatus.unsubscribed
    world.post([world.event("spamreport", "s1")])
    assert world.subscriber_status() == SubscriberStatus.complained
    with Session(world.engine) as s:
        row = s.get(Suppression, address_hash("ann@nhs.example"))
        assert row is not None
        assert row.reason == "complaint"


def test_a_late_bounce_does_not_overwrite_a_complaint(world: World) -> None:
    world.post([world.event("spamreport", "s1")])
    world.post([world.event("bounce", "b1", type="bounce")])
    assert world.subscriber_status() == SubscriberStatus.complained


def test_apple_machine_opens_are_flagged(world: World) -> None:
    world.post(
        [
            world.event("open", "o1", sg_machine_open=True, useragent="Mozilla/5.0"),
            world.event("open", "o2", sg_machine_open=False, useragent="Mozilla/5.0 (Macintosh)"),
        ]
    )
    first, second = world.events()
    assert (first.machine, first.machine_reason) == (True, "sg-machine-open")
    assert (second.machine, second.machine_reason) == (False, None)


def test_unknown_types_and_unmatched_events_are_acknowledged_and_kept(world: World) -> None:
    batch = [
        world.event("account_status_change", "x1", type="compliance_suspend"),
        world.event("delivered", "x2", delivery_id="999999"),
        world.event("delivered", "x3", bulletin_id=str((world.bulletin.id or 0) + 1)),  # disagrees
        {"event": "delivered", "sg_event_id": "x4", "timestamp": "garbage"},
    ]
    response = world.post(batch)
    assert response.status_code == 200
    assert response.json()["unmatched"] == 3
    stored = world.events()
    assert [e.type for e in stored] == ["other", "delivered", "delivered", "delivered"]
    assert stored[0].delivery_id == world.delivery.id
    assert stored[0].payload is not None
    assert stored[0].payload["event"] == "account_status_change"
    assert [e.delivery_id for e in stored[1:]] == [None, None, None]
    assert all(e.payload is not None for e in stored[1:])


def test_a_bounce_matching_no_delivery_still_suppresses_the_address(world: World) -> None:
    world.post([world.event("bounce", "b1", delivery_id=None, bulletin_id=None)])
    assert world.subscriber_status() == SubscriberStatus.bounced
    world.post([world.event("bounce", "b2", email="Stranger@Example.ORG", delivery_id=None)])
    with Session(world.engine) as s:
        # Keyed as an import keys it, so a later import of the address is refused.
        assert s.get(Suppression, address_hash(normalise_email("Stranger@Example.ORG"))) is not None


def test_agency_mode_keeps_no_delivery_on_provider_opens_and_clicks(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for w in build_world(tmp_path, database_url, engine, session, clock, tracking="agency"):
        w.post([w.event("open", "o1"), w.event("click", "c1"), w.event("delivered", "d1")])
        assert [(e.type, e.delivery_id) for e in w.events()] == [
            ("open", None),
            ("click", None),
            ("delivered", w.delivery.id),
        ]
