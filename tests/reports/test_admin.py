"""The admin sign-in (CSRF, signed session) and the reports it serves; `users add`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsletter.cli import app as cli
from newsletter.config import Settings
from newsletter.models import AdminUser
from newsletter.passwords import hash_password, verify_password
from newsletter.web.app import create_app
from tests.conftest import TEST_SECRET
from tests.reports.fixture import build_july

PASSWORD = "correct horse battery"


@pytest.fixture
def client(settings: Settings, engine: Engine, session: Session) -> Iterator[TestClient]:
    build_july(session)
    session.add(AdminUser(email="comms@example.org", password_hash=hash_password(PASSWORD)))
    session.commit()
    with TestClient(create_app(settings, engine=engine), follow_redirects=False) as c:
        yield c


def _csrf(client: TestClient, path: str = "/admin/login") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def _sign_in(client: TestClient, password: str = PASSWORD, **extra: str) -> object:
    form = {"email": "Comms@Example.org", "password": password, "csrf": _csrf(client), **extra}
    return client.post("/admin/login", data=form)


def test_admin_pages_send_a_stranger_to_the_sign_in_form(client: TestClient) -> None:
    for path in ("/admin/", "/admin/reports/training", "/admin/reports/bulletin/2026-07"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/admin/login?next=%2Fadmin%2F")


def test_a_sign_in_without_the_forms_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/admin/login")
    form = {"email": "comms@example.org", "password": PASSWORD, "csrf": "forged"}
    assert client.post("/admin/login", data=form).status_code == 403
    assert client.get("/admin/").status_code == 303


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient,
) -> None:
    response = _sign_in(client, password="not the password")
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert "Email or password not recognised" in response.text  # type: ignore[attr-defined]
    assert client.get("/admin/").status_code == 303


def test_an_administrator_signs_in_and_sees_both_reports(client: TestClient) -> None:
    response = _sign_in(client, next="/admin/reports/training")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/admin/reports/training"  # type: ignore[attr-defined]
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "2026-07: Non-Accidental Injuries" in index.text
    training = client.get("/admin/reports/training")
    assert training.status_code == 200
    assert '<h2 id="headline">Headline</h2>' in training.text
    assert training.text.count('<svg role="img"') == 2  # themes compared, month by month
    assert "default-src 'none'" in training.headers["content-security-policy"]
    as_csv = client.get("/admin/reports/training", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "2026-07,neglect,Child Neglect,course,police,<5" in as_csv.text
    as_pdf = client.get("/admin/reports/training", params={"format": "pdf"})
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF-")
    bulletin = client.get("/admin/reports/bulletin/2026-07")
    assert bulletin.status_code == 200
    assert "Click map" in bulletin.text
    blank_form = {"from": "", "to": "", "kinds": "course,briefing", "format": "html"}
    assert client.get("/admin/reports/training", params=blank_form).status_code == 200
    assert client.get("/admin/reports/training", params={"from": "July"}).status_code == 422
    assert client.get("/admin/reports/bulletin/2030-01").status_code == 404
    assert client.get("/admin/reports/training", params={"agency": "fire"}).status_code == 400


def test_sign_in_never_redirects_off_the_admin_pages(client: TestClient) -> None:
    response = _sign_in(client, next="https://evil.example/")
    assert response.headers["location"] == "/admin/"  # type: ignore[attr-defined]


def test_signing_out_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    _sign_in(client)
    assert client.post("/admin/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/admin/").status_code == 200
    token = _csrf(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf": token}).status_code == 303
    assert client.get("/admin/").status_code == 303


def test_users_add_hashes_the_password_and_refuses_duplicates_and_short_ones(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["users", "add", "Lead@Example.ORG"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    user = session.exec(select(AdminUser)).one()
    email, stored = user.email, user.password_hash
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    assert email == "lead@example.org"
    assert stored.startswith("scrypt$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password("wrong", stored)
    again = runner.invoke(cli, ["users", "add", "lead@example.org", "--password", PASSWORD])
    assert again.exit_code == 1
    assert "already an administrator" in again.output
    short = runner.invoke(cli, ["users", "add", "x@example.org", "--password", "short"])
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    bad = runner.invoke(cli, ["users", "add", "not-an-address", "--password", PASSWORD])
    assert bad.exit_code == 1
    assert "not an email address" in bad.output
