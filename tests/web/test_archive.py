"""The web archive: built bulletins, each agency's variant without personal data."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus, Variant
from newsletter.tokens import AgencyRef, agency_token, parse_token
from newsletter.urls import new_proof_token, preview_url
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.factories import make_delivery, make_subscriber
from tests.plan_factories import make_plan


@pytest.fixture
def draft(engine: Engine, settings: Settings, clock: FakeClock) -> Bulletin:
    """July built (a draft): nobody has received it."""
    with Session(engine, expire_on_commit=False) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
        session.commit()
        return result.bulletin


@pytest.fixture
def built(engine: Engine, draft: Bulletin) -> Bulletin:
    """July built and sent: one message actually went out."""
    with Session(engine, expire_on_commit=False) as session:
        health = session.exec(
            select(Variant).where(col(Variant.bulletin_id) == draft.id, Variant.agency == "health")
        ).one()
        subscriber = make_subscriber(session, agency="health")
        make_delivery(session, draft, subscriber, health)
        session.execute(update(Bulletin).values(status=BulletinStatus.sent))
        session.commit()
    return draft


@pytest.fixture
def client(engine: Engine, settings: Settings, clock: FakeClock) -> TestClient:
    return TestClient(create_app(settings, engine=engine, clock=clock))


def test_the_archive_lists_sent_bulletins_with_each_agencys_variant(
    client: TestClient, built: Bulletin
) -> None:
    response = client.get("/archive")

    assert response.status_code == 200
    doc = lxml.html.document_fromstring(response.text)
    hrefs = [a.get("href") for a in doc.iter("a")]
    assert "/archive/2026-07/health" in hrefs
    assert "/archive/2026-07/other" in hrefs
    assert "Non-Accidental Injuries" in response.text


def test_an_empty_archive_says_so(client: TestClient) -> None:
    response = client.get("/archive")
    assert response.status_code == 200
    assert "No bulletins have been published yet." in response.text


def test_a_variant_is_served_with_the_agency_token_and_no_personal_links(
    client: TestClient, built: Bulletin, settings: Settings
) -> None:
    response = client.get("/archive/2026-07/health")

    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == "noindex"
    html = response.text
    assert built.id is not None
    token = agency_token(settings.secret, built.id, "health")
    assert parse_token(settings.secret, token) == AgencyRef(built.id, "health")
    assert f"http://127.0.0.1:8000/c/{token}/" in html
    assert "__NL_" not in html
    assert "/o/" not in html  # viewing the web copy is not opening the email
    assert "/u/" not in html
    assert "/p/" not in html
    assert "http://127.0.0.1:8000/archive/subscription" in html
    assert "Hello colleague," in html
    assert "Child protection medicals" in html  # health's own variant


def test_the_subscription_help_page_explains_how_to_manage_a_subscription(
    client: TestClient,
) -> None:
    response = client.get("/archive/subscription")

    assert response.status_code == 200
    assert "links at the foot of the" in response.text
    assert "learning@example.org" in response.text


def test_a_draft_is_not_in_the_archive_and_its_pages_are_404(
    client: TestClient, draft: Bulletin
) -> None:
    index = client.get("/archive")
    assert "2026-07" not in index.text
    assert "No bulletins have been published yet." in index.text
    for agency in ("health", "police"):
        response = client.get(f"/archive/2026-07/{agency}")
        assert response.status_code == 404
        assert "Bulletin not found" in response.text


@pytest.mark.parametrize("status", [BulletinStatus.approved, BulletinStatus.failed])
def test_a_bulletin_nobody_received_stays_out_of_the_archive_whatever_its_status(
    client: TestClient, engine: Engine, draft: Bulletin, status: BulletinStatus
) -> None:
    with Session(engine) as session:
        session.execute(update(Bulletin).values(status=status))
        session.commit()
    assert client.get("/archive/2026-07/health").status_code == 404
    assert "2026-07" not in client.get("/archive").text


def test_a_preview_link_shows_a_draft_until_it_expires(
    client: TestClient, draft: Bulletin, settings: Settings, clock: FakeClock
) -> None:
    assert draft.id is not None
    token = new_proof_token(settings, bulletin_id=draft.id, agency="health", now=clock.now())
    response = client.get(urlsplit(preview_url(settings, token)).path)

    assert response.status_code == 200
    assert response.headers["x-robots-tag"] == "noindex"
    assert "Preview, not yet sent." in response.text
    assert "Child protection medicals" in response.text  # health's own variant
    assert f"http://127.0.0.1:8000/c/{token}/" in response.text  # clicks not counted
    assert "/o/" not in response.text
    assert "__NL_" not in response.text
    assert "/archive/2026-07/health" not in response.text  # "view in browser" stays here

    clock.advance(timedelta(days=settings.preview_days))
    expired = client.get(f"/preview/{token}")
    assert expired.status_code == 404
    assert "This preview link does not work" in expired.text


@pytest.mark.parametrize(
    "token",
    ["nonsense", "p99999999999-1-health.AAAAAAAAAAAAAAAA", "a1-health.AAAAAAAAAAAAAAAA"],
)
def test_a_forged_or_wrong_kind_of_preview_token_is_a_404(
    client: TestClient, draft: Bulletin, settings: Settings, token: str
) -> None:
    assert client.get(f"/preview/{token}").status_code == 404
    assert draft.id is not None
    archive_token = agency_token(settings.secret, draft.id, "health")
    assert client.get(f"/preview/{archive_token}").status_code == 404


@pytest.mark.parametrize(
    "path", ["/archive/2026-08/health", "/archive/2026-07/fire", "/archive/july/health"]
)
def test_unknown_bulletins_or_agencies_get_a_plain_404_page(
    client: TestClient, built: Bulletin, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert "Bulletin not found" in response.text
    assert 'href="/archive"' in response.text


def test_every_archived_bulletin_and_the_archive_link_to_the_sign_up_page(
    client: TestClient, built: Bulletin
) -> None:
    for path in ("/archive", "/archive/2026-07/health", "/archive/subscription"):
        doc = lxml.html.document_fromstring(client.get(path).text)
        assert "/subscribe" in [a.get("href") for a in doc.iter("a")], path
    body = lxml.html.document_fromstring(client.get("/archive/2026-07/health").text).body
    first = next(body.iter("a"))
    assert first.get("href") == "/subscribe"  # above the bulletin, not lost in its footer
