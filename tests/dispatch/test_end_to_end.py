"""A real bulletin, built and approved by the assembly code, sent through each transport."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import approve_bulletin, build_bulletin
from newsletter.clock import FakeClock
from newsletter.devtools.sendgrid_standin import SendGridStandIn
from newsletter.dispatch import send_bulletin
from newsletter.models import BulletinStatus, Delivery, Link
from newsletter.tokens import DeliveryRef, parse_token
from newsletter.transports import make_transport
from tests.conftest import REPO, make_settings
from tests.factories import make_subscriber
from tests.plan_factories import make_plan

KEY = "SG.e2e-key"
CLICK = re.compile(r"/c/([A-Za-z0-9._-]+)/(\d+)")


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(api_key=KEY) as server:
        yield server


def built_and_approved(session: Session, settings, clock: FakeClock) -> dict[int, str]:
    """The July bulletin built for every agency and approved; ``{subscriber id: email}``."""
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    people = {}
    for agency in ("health", "police", "education"):
        for _ in range(2):
            person = make_subscriber(session, agency=agency, name="Ann O'Neil & Co")
            people[person.id or 0] = person.email or ""
    plan = make_plan()
    build_bulletin(session, settings, plan, "2026-07", clock=clock)
    approve_bulletin(session, settings, plan, "2026-07", by="editor@example.org", clock=clock)
    session.commit()
    return people


def deliveries(session: Session) -> dict[int, int]:
    """``{delivery id: subscriber id}``"""
    rows = session.execute(select(col(Delivery.id), col(Delivery.subscriber_id))).all()
    session.commit()
    return {d: s or 0 for d, s in rows}


def test_a_built_bulletin_goes_out_through_sendgrid_with_every_placeholder_filled(
    engine: Engine,
    session: Session,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    standin: SendGridStandIn,
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, sendgrid_api_key=KEY, sendgrid_host=standin.url
    )
    people = built_and_approved(session, settings, clock)

    summary = send_bulletin(
        engine, settings, "2026-07", transport=make_transport(settings, "sendgrid"), clock=clock
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == len(people)
    owner = deliveries(session)
    link_ids = set(session.scalars(select(col(Link.id))))
    seen = set()
    for accepted in standin.accepted:
        payload = accepted.payload
        assert payload is not None
        for p in payload["personalizations"]:
            delivery_id = int(p["custom_args"]["delivery_id"])
            for part in payload["content"]:
                body = part["value"]
                for tag, value in p["substitutions"].items():
                    body = body.replace(tag, value)
                assert "__NL_" not in body, part["type"]
                clicks = CLICK.findall(body)
                assert clicks, part["type"]
                for token, link_id in clicks:
                    assert parse_token(settings.secret, token) == DeliveryRef(delivery_id)
                    assert int(link_id) in link_ids
                if part["type"] == "text/html":
                    assert "Ann O&#x27;Neil &amp; Co" in body or "Ann O'Neil &amp; Co" in body
            assert p["to"][0]["email"] == people[owner[delivery_id]]
            seen.add(delivery_id)
    assert seen == set(owner)


def test_a_built_bulletin_goes_to_the_outbox_as_complete_personal_messages(
    engine: Engine, session: Session, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    people = built_and_approved(session, settings, clock)

    summary = send_bulletin(
        engine, settings, "2026-07", transport=make_transport(settings, "outbox"), clock=clock
    )

    assert summary.totals.sent == len(people)
    owner = deliveries(session)
    files = sorted((settings.data_dir / "outbox" / "2026-07").glob("*.eml"))
    assert len(files) == len(people)
    for path in files:
        delivery_id = int(path.name.split("-")[0][1:])
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        assert msg["To"].addresses[0].addr_spec == people[owner[delivery_id]]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        for part in msg.iter_parts():
            body = part.get_content()
            assert "__NL_" not in body
            for token, _ in CLICK.findall(body):
                assert parse_token(settings.secret, token) == DeliveryRef(delivery_id)
