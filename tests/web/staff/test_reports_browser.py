"""The staff app's reports page in Debian's Chromium against a real server: filters, the
report, its chart images, on a desktop and on a 375 px phone (nothing scrolls sideways), with an
axe check each time and a screenshot (copied to docs/ when UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.db import make_engine
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_user
from tests.reports.demo import build_demo
from tests.reports.test_report_in_browser import serious_violations
from tests.web.staff.support import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    db = tmp_path / "reports.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine: Engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        build_demo(session)
        user = make_user(session)
        email = user.email
        session.commit()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, database_url=f"sqlite:///{db}", public_base_url=base)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, engine=engine), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base, email
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


def test_the_reports_page_filters_draws_its_charts_and_fits_a_phone(
    site: tuple[str, str], chromium: Any, tmp_path: Path
) -> None:
    base, email = site
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{base}/admin/reports")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/reports")
    assert page.locator("h1").inner_text() == "Reports"
    page.fill("#from", "2026-05")
    page.fill("#to", "2026-07")
    page.select_option("#agency", "health")
    page.get_by_role("button", name="Show the report").click()
    page.wait_for_load_state("load")
    assert "Training links: May to July 2026" in page.content()
    assert "Health (NHS and private providers); course links" in page.inner_text("main")
    images = page.locator("img.report-chart")
    assert images.count() >= 2
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert serious_violations(page) == []
    shots = [tmp_path / "staff-reports.png", tmp_path / "staff-reports-phone.png"]
    page.screenshot(path=str(shots[0]), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload(wait_until="load")
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right"
        " > 375).slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"
    )
    assert width <= 375, f"the reports page scrolls sideways on a phone: {width}px: {wide}"
    assert serious_violations(page) == []
    page.screenshot(path=str(shots[1]), full_page=False)
    for shot in shots:
        assert shot.stat().st_size > 5_000
        if os.environ.get("UPDATE_SCREENSHOTS"):
            shutil.copyfile(shot, REPO / "docs" / shot.name)
