"""No transport is ever handed a header with a line break, even for a name stored before names
were checked on entry: the person still gets the bulletin, under a flattened name."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from newsletter.clock import FakeClock
from newsletter.devtools.sendgrid_standin import SendGridStandIn
from newsletter.dispatch import send_bulletin
from newsletter.models import BulletinStatus, Delivery, DeliveryStatus
from newsletter.transports import make_transport
from tests.conftest import make_settings
from tests.factories import make_bulletin, make_subscriber, make_variant

KEY = "SG.header-key"
EVIL = "Evil\r\nBcc: everyone@example.org"


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(api_key=KEY) as server:
        yield server


def evil_bulletin(session: Session) -> str:
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    make_variant(
        session,
        bulletin,
        agency="health",
        subject="July\r\nBcc: subject@example.org",
        html="<p>Hi __NL_NAME__</p>",
    )
    make_subscriber(session, agency="health", name=EVIL, email="evil@example.org")
    session.commit()
    return bulletin.month


def statuses(session: Session) -> list[str]:
    rows = session.scalars(select(col(Delivery.status))).all()
    session.commit()
    return [str(s) for s in rows]


def test_the_outbox_sends_a_legacy_name_with_a_line_break_flattened_and_no_bcc(
    engine: Engine, session: Session, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    month = evil_bulletin(session)

    summary = send_bulletin(
        engine, settings, month, transport=make_transport(settings, "outbox"), clock=clock
    )

    assert summary.totals.sent == 1
    assert statuses(session) == [DeliveryStatus.sent.value]
    (eml,) = (settings.data_dir / "outbox").rglob("*.eml")
    raw = eml.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message.get_all("Bcc") is None
    assert message["To"].addresses[0].display_name == "Evil Bcc: everyone@example.org"
    assert message["To"].addresses[0].addr_spec == "evil@example.org"
    assert str(message["Subject"]) == "July Bcc: subject@example.org"


def test_sendgrid_is_never_given_a_name_or_subject_with_a_line_break(
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
    month = evil_bulletin(session)

    summary = send_bulletin(
        engine, settings, month, transport=make_transport(settings, "sendgrid"), clock=clock
    )

    assert summary.totals.sent == 1
    (accepted,) = [a for a in standin.accepted if a.payload]
    assert accepted.payload is not None
    (person,) = accepted.payload["personalizations"]
    assert person["to"] == [{"email": "evil@example.org", "name": "Evil Bcc: everyone@example.org"}]
    assert "\r" not in accepted.payload["subject"]
    assert "\n" not in accepted.payload["subject"]
