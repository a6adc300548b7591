"""The web archive: built bulletins, each agency's variant without personal data."""

from __future__ import annotations

import lxml.html
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Bulletin
from newsletter.tokens import AgencyRef, agency_token, parse_token
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.plan_factories import make_plan


@pytest.fixture
def built(engine: Engine, settings: Settings, clock: FakeClock) -> Bulletin:
    with Session(engine, expire_on_commit=False) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
        session.commit()
        return result.bulletin


@pytest.fixture
def client(engine: Engine, settings: Settings, clock: FakeClock) -> TestClient:
    return TestClient(create_app(settings, engine=engine, clock=clock))


def test_the_archive_lists_built_bulletins_with_each_agencys_variant(
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
