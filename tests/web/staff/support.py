"""Helpers for staff-app tests: a client on the real app, CSRF tokens from real pages, sign-in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyotp
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.web.app import create_app

PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@contextmanager
def staff_client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def csrf(client: TestClient, path: str = "/admin/sign-in") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, f"no CSRF field on {path} ({page.status_code})"
    return match.group(1)


def post_form(
    client: TestClient, path: str, form: dict[str, str | list[str]], *, page: str | None = None
) -> Response:
    """POST ``form`` to ``path`` with the CSRF token of ``page`` (default: ``path``'s own form)."""
    token = csrf(client, page or path)
    response: Response = client.post(path, data={**form, "csrf": token})
    return response


def sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Response:
    return post_form(client, "/admin/sign-in", {"email": email, "password": password, **extra})


def code_for(clock: FakeClock, secret: str = SECRET, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now(), counter_offset=offset)


def sign_in_fully(
    client: TestClient, clock: FakeClock, email: str, *, secret: str | None = None
) -> None:
    """Password, then the second factor when the user has one; asserts it worked."""
    response = sign_in(client, email)
    assert response.status_code == 303, response.text
    if secret is not None:
        assert response.headers["location"].startswith("/admin/two-factor")
        done = post_form(client, "/admin/two-factor", {"code": code_for(clock, secret)})
        assert done.status_code == 303, done.text
    assert client.get("/admin/").status_code == 200
