"""The start page and the error pages: HTML for browsers, JSON for everything else."""

from __future__ import annotations

from collections.abc import Iterator

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import BulletinStatus
from newsletter.web.app import create_app
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def app(engine: Engine, settings: Settings, clock: FakeClock) -> FastAPI:
    return create_app(settings, engine=engine, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_the_start_page_names_the_partnership_and_links_the_archive_sign_up_and_staff_sign_in(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/", headers=BROWSER)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    doc = lxml.html.document_fromstring(response.text)
    assert settings.partnership_name in doc.findtext(".//h1")
    hrefs = {a.get("href") for a in doc.iter("a")}
    assert {"/archive", "/subscribe", "/admin/", "/archive/subscription"} <= hrefs


def test_the_start_page_names_the_latest_sent_bulletin_and_never_a_draft(
    client: TestClient, session: Session
) -> None:
    sent = make_bulletin(session, month="2026-07", theme="Non-Accidental Injuries")
    variant = make_variant(session, sent, agency="health")
    make_delivery(session, sent, make_subscriber(session, agency="health"), variant)
    sent.status = BulletinStatus.sent
    make_bulletin(session, month="2026-08", theme="Child Neglect")  # a draft
    session.commit()

    text = client.get("/", headers=BROWSER).text

    assert "2026-07: Non-Accidental Injuries" in text
    assert "Child Neglect" not in text


def test_an_unknown_page_is_a_friendly_html_404_for_a_browser(client: TestClient) -> None:
    response = client.get("/no/such/page", headers=BROWSER)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in response.text
    assert 'href="/archive"' in response.text


@pytest.mark.parametrize("accept", [None, "application/json", "*/*"])
def test_an_unknown_page_stays_json_for_json_clients(
    client: TestClient, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/no/such/page", headers=headers)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_webhooks_answer_json_even_to_a_browser(client: TestClient) -> None:
    response = client.get("/webhooks/sendgrid", headers=BROWSER)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}


def test_a_server_error_is_a_friendly_500_page_for_a_browser_and_json_otherwise(
    app: FastAPI, client: TestClient
) -> None:
    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError("boom")

    page = client.get("/explode", headers=BROWSER)
    assert page.status_code == 500
    assert "Sorry, there is a problem with the service" in page.text
    assert "boom" not in page.text

    api = client.get("/explode", headers={"Accept": "application/json"})
    assert api.status_code == 500
    assert api.json() == {"detail": "Internal Server Error"}
