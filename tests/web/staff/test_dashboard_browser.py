"""The staff home page in Debian's Chromium against a real server, on a fake clock in August
2026: half a year sent (the reports demo), July's send with failed and unknown deliveries,
August missed, September built and asked for approval, and no scheduler running. The
alerts, the person's own steps, the next send and the last bulletin's figures, on a desktop and
on a 375 px phone, with an axe check each time and a screenshot (copied to docs/ when
UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.assemble import ask_for_approval
from newsletter.clock import FakeClock
from newsletter.db import make_engine
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Delivery,
    ScheduleAction,
)
from newsletter.plan import current_plan
from newsletter.plan.digest import month_digest
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_bulletin, make_user
from tests.reports.demo import build_demo
from tests.reports.test_report_in_browser import serious_violations
from tests.web.staff.support import PASSWORD

pytestmark = pytest.mark.browser

NOW = datetime(2026, 8, 10, 8, 0, tzinfo=UTC)


def _state(session: Session, settings: Any) -> None:
    build_demo(session)
    plan = current_plan(session, settings)
    july = session.exec(select(Bulletin).where(col(Bulletin.month) == "2026-07")).one()
    july.send_started_at = datetime(2026, 7, 7, 8, 0, tzinfo=UTC)
    first = session.exec(
        select(Delivery.id).where(col(Delivery.bulletin_id) == july.id).order_by(col(Delivery.id))
    ).all()
    session.execute(update(Delivery).where(col(Delivery.id).in_(first[:2])).values(status="failed"))
    session.execute(
        update(Delivery).where(col(Delivery.id).in_(first[2:5])).values(status="unknown")
    )
    august = make_bulletin(
        session,
        month="2026-08",
        theme=plan.themes["2026-08"].title,
        status=BulletinStatus.missed,
        send_at=datetime(2026, 8, 4, 8, 0, tzinfo=UTC),
        plan_hash=plan.digest,
        month_hash=month_digest(plan, "2026-08"),
    )
    assert august.id is not None
    session.add(
        ScheduleAction(
            bulletin_id=august.id, action="missed", detail="it was not approved by its send time"
        )
    )
    make_bulletin(
        session,
        month="2026-09",
        theme=plan.themes["2026-09"].title,
        status=BulletinStatus.draft,
        checks_passed=True,
        send_at=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
        plan_hash=plan.digest,
        month_hash=month_digest(plan, "2026-09"),
    )
    ask_for_approval(session, "2026-09", by="ann@example.org", clock=FakeClock(NOW))


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    db = tmp_path / "dashboard.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine: Engine = make_engine(f"sqlite:///{db}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, database_url=f"sqlite:///{db}", public_base_url=base)
    with Session(engine) as session:
        _state(session, settings)
        email = make_user(session, email="lead@example.org", roles=["approver"]).email
        session.commit()
    app = create_app(settings, engine=engine, clock=FakeClock(NOW))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base, email
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


def test_the_dashboard_shows_alerts_steps_next_send_and_figures_and_fits_a_phone(
    site: tuple[str, str], chromium: Any, tmp_path: Path
) -> None:
    base, email = site
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.goto(f"{base}/admin/")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")
    main = page.inner_text("main")

    assert page.locator("h1").inner_text() == "Dashboard"
    assert "Waiting for you" in main
    assert "Approve it, or reject it with a comment for the editors." in main
    for title in (
        "The July 2026 send finished with failures",
        "August 2026 was not sent",
        "No scheduler is running",
    ):
        assert title in main, title
    assert "2 messages failed and 3 with an unknown outcome" in main
    assert "Last bulletin: July 2026" in main
    assert page.get_by_role("link", name="The July 2026 report").get_attribute("href") == (
        "/admin/reports/bulletin/2026-07"
    )
    assert serious_violations(page) == []
    shot = tmp_path / "staff-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)

    page.get_by_role("link", name="Decide about the August 2026 bulletin").click()
    page.wait_for_url(f"{base}/admin/bulletins/2026-08")
    assert "missed" in page.inner_text("#status")

    page.goto(f"{base}/admin/")
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload(wait_until="load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the dashboard scrolls sideways on a phone: {width}px"
    assert serious_violations(page) == []
    assert shot.stat().st_size > 5_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, REPO / "docs" / shot.name)
