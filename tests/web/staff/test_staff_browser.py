"""The staff app in Debian's Chromium against a real server: invite -> choose a password -> set
up and use the second factor -> sign out; an axe check on every page on the way (no serious or
critical violations), and screenshots (copied to docs/ when UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_bulletin, make_user
from tests.web.staff.support import PASSWORD, SECRET

pytestmark = pytest.mark.browser
NEW_PASSWORD = "lantern orchard seventeen"


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Settings, Engine]]:
    db = tmp_path / "staff.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, database_url=f"sqlite:///{db}", public_base_url=base)
    app = create_app(settings, engine=engine)  # the real clock: TOTP codes are real codes
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base, settings, engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


def _axe(page: Any, seen: list[str]) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in bad
    )
    seen.append(page.url)


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(path, REPO / "docs" / name)


def _invitation_link(settings: Settings) -> str:
    [eml] = list(Path(settings.data_dir, "outbox", "notifications").glob("*.eml"))
    body = message_from_bytes(eml.read_bytes()).get_payload(decode=True).decode()  # type: ignore[union-attr]
    match = re.search(r"(http://127\.0\.0\.1:\d+/admin/invitation/\S+)", body)
    assert match, body
    return match.group(1)


def test_invite_choose_a_password_sign_in_with_a_second_factor_and_sign_out(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, settings, engine = site
    with Session(engine) as session:
        admin = make_user(session, email="admin@example.org", roles=["admin"], totp_secret=SECRET)
        make_bulletin(session, month="2026-07", theme="Non-Accidental Injuries", status="sent")
        session.commit()
        admin_email = admin.email
    seen: list[str] = []
    totp = pyotp.TOTP(SECRET)

    # The admin signs in (password, then the code) and invites a new admin.
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{base}/admin/users")
    expect(page).to_have_url(re.compile(r".*/admin/sign-in\?next="))
    _axe(page, seen)
    page.get_by_label("Email address").fill(admin_email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    _axe(page, seen)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Enter your security code")).to_be_visible()
    _axe(page, seen)
    page.get_by_label("Security code").fill(totp.now())
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{base}/admin/users")
    _axe(page, seen)
    page.get_by_role("link", name="Invite a person").click()
    expect(page.get_by_role("heading", name="Invite a person")).to_be_visible()
    _axe(page, seen)
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    _axe(page, seen)
    _shot(page, tmp_path, "staff-invite-errors.png")
    page.get_by_label("Email address").fill("new.admin@example.org")
    page.get_by_label("Name (optional)").fill("Nia Okafor")
    page.locator("#role-admin").check()
    page.locator("#roles").check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to new.admin@example.org")).to_be_visible()
    _axe(page, seen)
    _shot(page, tmp_path, "staff-users.png")
    page.get_by_role("link", name="new.admin@example.org").click()
    expect(page.get_by_role("heading", name="new.admin@example.org")).to_be_visible()
    _axe(page, seen)
    page.get_by_role("link", name="Remove new.admin@example.org").click()
    expect(page.get_by_role("heading", name="Remove new.admin@example.org?")).to_be_visible()
    _axe(page, seen)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("cell", name="user.invite", exact=True)).to_be_visible()
    _axe(page, seen)
    _shot(page, tmp_path, "staff-activity.png")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    _axe(page, seen)
    page.get_by_role("link", name=admin_email).click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    _axe(page, seen)

    # The newcomer opens the emailed link, chooses a password, and must set up a second factor.
    newcomer = chromium.new_context(viewport={"width": 1000, "height": 900}).new_page()
    newcomer.goto(_invitation_link(settings))
    expect(newcomer.get_by_role("heading", name="Choose your password")).to_be_visible()
    _axe(newcomer, seen)
    newcomer.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    newcomer.get_by_label("Type the password again").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Save the password").click()
    expect(newcomer.get_by_text("Your password is set")).to_be_visible()
    _axe(newcomer, seen)
    newcomer.get_by_label("Email address").fill("new.admin@example.org")
    newcomer.get_by_label("Password").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Sign in").click()
    expect(newcomer.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    expect(newcomer.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    _axe(newcomer, seen)
    _shot(newcomer, tmp_path, "staff-two-factor.png")
    newcomer.get_by_text("I cannot scan the QR code").click()
    secret = newcomer.locator("#totp-secret").inner_text().strip()
    their_app = pyotp.TOTP(secret)
    newcomer.get_by_label("Security code").fill(their_app.now())
    newcomer.get_by_role("button", name="Turn on the second factor").click()
    expect(newcomer.get_by_role("heading", name="Dashboard")).to_be_visible()
    _axe(newcomer, seen)

    # Sign out: the page says so, and the staff pages ask for sign-in again.
    newcomer.get_by_role("button", name="Sign out").click()
    expect(newcomer.get_by_role("heading", name="You have signed out")).to_be_visible()
    _axe(newcomer, seen)
    newcomer.goto(f"{base}/admin/")
    expect(newcomer).to_have_url(re.compile(r".*/admin/sign-in\?next="))

    # Next time: password and a fresh code (the next one the app shows; a code works once).
    newcomer.get_by_label("Email address").fill("new.admin@example.org")
    newcomer.get_by_label("Password").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Sign in").click()
    newcomer.get_by_label("Security code").fill(their_app.at(_now(), counter_offset=1))
    newcomer.get_by_role("button", name="Continue").click()
    expect(newcomer.get_by_role("heading", name="Dashboard")).to_be_visible()
    newcomer.get_by_role("link", name="new.admin@example.org").click()
    expect(newcomer.get_by_role("heading", name="Your account")).to_be_visible()
    _axe(newcomer, seen)
    newcomer.get_by_role("button", name="Sign out").click()
    expect(newcomer.get_by_role("heading", name="You have signed out")).to_be_visible()

    # The pages open to everyone.
    newcomer.goto(f"{base}/admin/forgot-password")
    _axe(newcomer, seen)
    newcomer.get_by_label("Email address").fill("someone@example.org")
    newcomer.get_by_role("button", name="Send a reset link").click()
    expect(newcomer.get_by_role("heading", name="Check your email")).to_be_visible()
    _axe(newcomer, seen)
    newcomer.goto(f"{base}/admin/invitation/not-a-real-token")
    _axe(newcomer, seen)
    assert len(seen) >= 20


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
