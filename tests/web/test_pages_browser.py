"""The newcomer's pages in Debian's Chromium: start page, archive, preview, errors; axe on each."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus, Variant
from newsletter.urls import new_proof_token
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.factories import make_delivery, make_subscriber
from tests.plan_factories import make_plan, make_theme

pytestmark = pytest.mark.browser

# Screenshots land here for a person to look at (NEWSLETTER_SCREENSHOTS=DIR keeps them).
SHOTS = os.environ.get("NEWSLETTER_SCREENSHOTS")


@pytest.fixture
def site(engine: Engine, settings: Settings, clock: FakeClock) -> Iterator[tuple[str, str]]:
    """The app on a real loopback socket with July sent and August a draft; (base, preview)."""
    with Session(engine, expire_on_commit=False) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        plan = make_plan(make_theme("2026-07"), make_theme("2026-08", subject="August learning"))
        july = build_bulletin(session, settings, plan, "2026-07", clock=clock).bulletin
        august = build_bulletin(session, settings, plan, "2026-08", clock=clock).bulletin
        health = session.exec(
            select(Variant).where(col(Variant.bulletin_id) == july.id, Variant.agency == "health")
        ).one()
        make_delivery(session, july, make_subscriber(session, agency="health"), health)
        session.execute(
            update(Bulletin).where(col(Bulletin.id) == july.id).values(status=BulletinStatus.sent)
        )
        session.commit()
        assert august.id is not None
        proof = new_proof_token(settings, bulletin_id=august.id, agency="police", now=clock.now())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = create_app(settings, engine=engine, clock=clock)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    host, port = sock.getsockname()
    try:
        yield f"http://{host}:{port}", f"/preview/{proof}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def check_page(page: Any, name: str, tmp_path: Path) -> None:
    results = Axe().run(page)
    serious = [
        v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], results.generate_report()
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_newcomer_finds_the_archive_and_sign_in_from_the_start_page(
    chromium: Any, site: tuple[str, str], tmp_path: Path
) -> None:
    base, _preview = site
    page = chromium.new_page()
    response = page.goto(f"{base}/")
    assert response is not None
    assert response.status == 200
    assert "Safeguarding People Partnership" in page.inner_text("h1")
    assert page.get_by_role("link", name="Sign in to the staff pages").get_attribute("href") == (
        "/admin/"
    )
    check_page(page, "landing", tmp_path)

    page.get_by_role("link", name="See every bulletin that has been sent").click()
    assert page.url == f"{base}/archive"
    assert "2026-07" in page.inner_text("main")
    assert "2026-08" not in page.inner_text("main")  # the draft is not published
    check_page(page, "archive", tmp_path)


def test_a_draft_is_a_404_in_the_archive_and_readable_through_its_preview_link(
    chromium: Any, site: tuple[str, str], tmp_path: Path
) -> None:
    base, preview = site
    page = chromium.new_page()
    missing = page.goto(f"{base}/archive/2026-08/police")
    assert missing is not None
    assert missing.status == 404
    check_page(page, "archive-draft-404", tmp_path)

    shown = page.goto(f"{base}{preview}")
    assert shown is not None
    assert shown.status == 200
    assert "Preview, not yet sent." in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "preview.png"), full_page=True)

    forged = page.goto(f"{base}{preview[:-2]}xx")
    assert forged is not None
    assert forged.status == 404
    check_page(page, "preview-404", tmp_path)


def test_unknown_pages_are_friendly_and_accessible(
    chromium: Any, site: tuple[str, str], tmp_path: Path
) -> None:
    base, _preview = site
    page = chromium.new_page()
    response = page.goto(f"{base}/no/such/page")
    assert response is not None
    assert response.status == 404
    assert page.inner_text("h1") == "Page not found"
    check_page(page, "not-found", tmp_path)
