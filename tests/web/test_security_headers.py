"""Security headers on every HTML response (public pages, staff pages, errors), and HSTS on https."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_bulletin, make_user, make_variant
from tests.web.staff.support import SECRET, sign_in_fully

PUBLIC = [
    "/",
    "/archive",
    "/archive/subscription",
    "/archive/2026-07/health",
    "/archive/1999-01/nobody",
    "/u/not-a-token",
    "/p/not-a-token",
    "/c/not-a-token/1",
    "/no-such-page",
    "/admin/sign-in",
    "/admin/forgot-password",
    "/admin/forgot-password/sent",
    "/admin/signed-out",
    "/admin/invitation/not-a-token",
    "/admin/reset-password/not-a-token",
]
STAFF = [
    "/admin/",
    "/admin/account",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/1",
    "/admin/users/1/remove",
    "/admin/activity",
    "/admin/reports",
    "/admin/reports/training",
    "/admin/reports/bulletin/2026-07",
]


def _check(response, path: str) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", path
    assert headers["referrer-policy"], path
    if not headers.get("content-type", "").startswith("text/html"):
        return
    csp = headers["content-security-policy"]
    assert "frame-ancestors" in csp, path
    script = [d for d in csp.split(";") if d.strip().startswith(("script-src", "default-src"))]
    assert script, path
    assert all("'unsafe-inline'" not in d for d in script if d.strip().startswith("script-src")), (
        path
    )
    assert "<script>" not in response.text, path
    assert headers["x-frame-options"] in {"DENY", "SAMEORIGIN"}, path


def test_every_html_response_carries_the_security_headers(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    bulletin = make_bulletin(session, month="2026-07", status="sent")
    make_variant(session, bulletin, agency="health")
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    session.commit()
    html_seen = 0
    with TestClient(
        create_app(settings, engine=engine, clock=clock), follow_redirects=False
    ) as client:
        for path in PUBLIC:
            response = client.get(path)
            _check(response, path)
            html_seen += response.headers.get("content-type", "").startswith("text/html")
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        for path in STAFF:
            response = client.get(path)
            assert response.status_code in {200, 404}, path
            _check(response, path)
            html_seen += response.headers.get("content-type", "").startswith("text/html")
            if path.startswith("/admin/") and "/reports/" not in path:
                assert "'unsafe-inline'" not in response.headers["content-security-policy"], path
    assert html_seen >= len(PUBLIC) + len(STAFF) - 4


def test_https_responses_carry_hsts_and_plain_http_ones_do_not(
    tmp_path, engine: Engine, database_url: str, clock: FakeClock
) -> None:
    secure = make_settings(
        tmp_path, database_url=database_url, public_base_url="https://bulletin.example.org"
    )
    with TestClient(create_app(secure, engine=engine, clock=clock)) as client:
        assert "max-age=" in client.get("/admin/sign-in").headers["strict-transport-security"]
        assert "strict-transport-security" in client.get("/healthz").headers
        cookie = client.get("/admin/sign-in").headers["set-cookie"]
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
    plain = make_settings(tmp_path, database_url=database_url)
    with TestClient(create_app(plain, engine=engine, clock=clock)) as client:
        assert "strict-transport-security" not in client.get("/admin/sign-in").headers
