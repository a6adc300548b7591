"""The comms team plans in Debian's Chromium against a real server: an editor adds a course,
plans January 2027 from December 2026, adds items, fixes an error shown beside its field,
previews two agencies and saves; a second editor saving over the same revision is refused
with the difference; an old revision is restored; an approver without the editor role gets
403. An axe check on every page on the way; screenshots of the calendar, the editor and the
catalogue (copied to docs/ when UPDATE_SCREENSHOTS is set)."""

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
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.models import ActivityEntry
from newsletter.plan.store import current_revision, import_directory
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_user
from tests.plan_fixtures import AGENCIES
from tests.web.staff.support import PASSWORD

pytestmark = pytest.mark.browser
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def sample_without_2027(root: Path) -> Path:
    """The sample plan, planned only to December 2026."""
    plan_dir = root / "campaigns"
    shutil.copytree(REPO / "campaigns", plan_dir)
    for path in (plan_dir / "themes").glob("2027-*.yaml"):
        path.unlink()
    return plan_dir


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Settings, Engine]]:
    db = tmp_path / "plan.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    plan_dir = sample_without_2027(tmp_path)
    settings = make_settings(
        tmp_path, database_url=f"sqlite:///{db}", public_base_url=base, plan_dir=plan_dir
    )
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        import_directory(session, plan_dir, agencies=AGENCIES, author="system", message="first")
        for email, roles in (
            ("ann@example.org", ["editor"]),
            ("bob@example.org", ["editor"]),
            ("carol@example.org", ["approver"]),
        ):
            make_user(session, email=email, roles=roles)
        session.commit()
    app = create_app(settings, engine=engine, clock=FakeClock(NOW))
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


def _axe(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in bad
    )


def _shot(page: Any, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(path, REPO / "docs" / name)


def _sign_in(browser: Any, base: str, email: str) -> Any:
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(f"{base}/admin/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin/")
    return page


def test_an_editor_plans_a_month_in_the_browser_and_a_second_editor_is_refused_over_the_same_base(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, _settings, engine = site
    ann = _sign_in(chromium, base, "ann@example.org")

    # Ann adds a course to the catalogue.
    ann.goto(f"{base}/admin/catalogue")
    _axe(ann)
    ann.get_by_role("link", name="Add a course").click()
    _axe(ann)
    ann.get_by_label("Id").fill("course-new-year-review")
    ann.get_by_label("Title").fill("Reviewing the year: learning from 2026")
    ann.get_by_label("Summary").fill(
        "A half-day workshop on what the partnership's reviews taught us."
    )
    ann.get_by_label("Link", exact=True).fill("https://learning.example.org/courses/year-review")
    ann.get_by_label("Link text").fill("Book the year review workshop")
    ann.get_by_label("Format").fill("Virtual classroom")
    ann.get_by_label("Booking closes").fill("2027-01-31")
    ann.get_by_role("button", name="Add course").click()
    expect(ann.get_by_text("Added course course-new-year-review (revision 2)")).to_be_visible()
    _axe(ann)
    ann.goto(f"{base}/admin/catalogue?kind=course")
    expect(ann.get_by_role("link", name="Reviewing the year: learning from 2026")).to_be_visible()
    _shot(ann, tmp_path, "staff-catalogue.png")

    # Bob opens December (revision 2) and will save later.
    bob = _sign_in(chromium, base, "bob@example.org")
    bob.goto(f"{base}/admin/plan/months/2026-12")
    _axe(bob)

    # Ann plans January 2027 from December 2026, from the calendar.
    ann.goto(f"{base}/admin/calendar")
    _axe(ann)
    _shot(ann, tmp_path, "staff-calendar.png")
    ann.get_by_role("link", name="Plan January 2027").click()
    _axe(ann)
    expect(ann.get_by_label("Start from")).to_have_value("2026-12")
    ann.get_by_role("button", name="Continue").click()
    expect(ann.get_by_text("Copied from December 2026")).to_be_visible()
    ann.get_by_label("Theme", exact=True).fill("Learning from the Year")
    ann.get_by_label("Subject line").fill("")
    ann.get_by_label("Search the catalogue").fill("year review")
    ann.get_by_role("button", name="Search", exact=True).click()
    ann.get_by_role("button", name="Add Reviewing the year: learning from 2026").click()
    item = ann.locator("li.item", has_text="course-new-year-review")
    item.get_by_text("Only some agencies").click()
    item.get_by_label("Health").check()

    # Saving without a subject: the error beside the field and in the summary.
    ann.get_by_role("button", name="Save January 2027").click()
    summary = ann.locator(".error-summary")
    expect(summary).to_contain_text("subject: is required but missing")
    beside = " ".join(ann.locator("#subject-error1").inner_text().split())
    assert beside == "Error: is required but missing"
    _axe(ann)
    ann.get_by_label("Subject line").fill("January's learning: a year of reviews")
    ann.get_by_role("button", name="Update the previews").click()
    expect(ann.locator(".inbox__subject")).to_have_text("January's learning: a year of reviews")
    _shot(ann, tmp_path, "staff-editor.png")

    # Previews of two agencies, before saving: the course is shown to health only.
    previews = {}
    for agency in ("health", "police"):
        ann.get_by_label("Preview as").select_option(agency)
        with ann.context.expect_page() as popup:
            ann.get_by_role("button", name="Preview this agency's bulletin").click()
        preview = popup.value
        preview.wait_for_load_state()
        previews[agency] = preview.content()
        preview.close()
    assert "Reviewing the year: learning from 2026" in previews["health"]
    assert "Reviewing the year: learning from 2026" not in previews["police"]
    assert "Learning from the Year" in previews["police"]

    ann.get_by_label("What changed").fill("January planned")
    ann.get_by_role("button", name="Save January 2027").click()
    expect(ann.get_by_text("January 2027 saved as revision 3")).to_be_visible()

    # Bob saves over revision 2: refused, with the difference; his edit is kept in the form.
    bob.get_by_label("Theme", exact=True).fill("Safer Sleep at Christmas")
    bob.get_by_role("button", name="Save December 2026").click()
    expect(
        bob.get_by_role("heading", name="Not saved: someone else changed the plan")
    ).to_be_visible()
    expect(bob.locator("pre.diff")).to_contain_text("+title: Learning from the Year")
    assert bob.get_by_label("Theme", exact=True).input_value() == "Safer Sleep at Christmas"
    _axe(bob)

    # Ann restores revision 1 from the history.
    ann.goto(f"{base}/admin/plan")
    _axe(ann)
    ann.get_by_role("link", name="Changes in revision 3").click()
    expect(ann.locator("pre.diff")).to_contain_text("+title: Learning from the Year")
    _axe(ann)
    ann.goto(f"{base}/admin/plan")
    ann.get_by_role("button", name="Restore revision 1").click()
    expect(ann.get_by_text("Revision 1 restored as revision 4")).to_be_visible()

    # Carol approves but does not edit: the editor is refused to her.
    carol = _sign_in(chromium, base, "carol@example.org")
    response = carol.goto(f"{base}/admin/plan/months/2026-12")
    assert response is not None
    assert response.status == 403
    _axe(carol)

    with Session(engine) as session:
        revision = current_revision(session)
        assert revision is not None
        assert revision.number == 4
        assert "themes/2027-01.yaml" not in revision.documents  # revision 1 had no January
        actions = session.exec(
            select(ActivityEntry.action, ActivityEntry.actor).where(
                col(ActivityEntry.action).startswith("plan.")
                | col(ActivityEntry.action).startswith("catalogue.")
            )
        ).all()
    assert sorted(actions) == sorted(
        [
            ("catalogue.save", "ann@example.org"),
            ("plan.save", "ann@example.org"),
            ("plan.restore", "ann@example.org"),
        ]
    )


def test_typing_markdown_into_the_introduction_shows_it_as_readers_see_it_without_submitting(
    site: tuple[str, Settings, Engine], chromium: Any
) -> None:
    base, _settings, _engine = site
    ann = _sign_in(chromium, base, "ann@example.org")
    ann.goto(f"{base}/admin/plan/months/2026-12")
    editor_url = ann.url
    live = ann.get_by_role("region", name="Preview", exact=True)
    drawn = ann.get_by_role("group", name="Introduction as readers see it")
    expect(live).to_be_hidden()
    expect(drawn).to_be_visible()

    intro = ann.get_by_label("Introduction", exact=True)
    intro.fill("")
    intro.press_sequentially("Keep babies **bold** and [safe](javascript:alert(1))")

    expect(live.locator("strong")).to_have_text("bold", timeout=5_000)
    expect(live).to_contain_text("a link in this text: 'javascript:alert(1)' is a javascript:")
    expect(live.locator("a")).to_have_count(0)
    expect(live.locator("script")).to_have_count(0)
    expect(drawn).to_be_hidden()
    # A screen reader hears the update: a polite live region outside the box that was hidden.
    expect(ann.locator("#intro-live-status")).to_have_text(
        "Preview updated. Plan check will refuse this text."
    )
    expect(ann.locator("#intro-live-status")).to_have_attribute("aria-live", "polite")
    assert ann.url == editor_url  # nothing was submitted
    _axe(ann)

    section_intro = ann.get_by_label("Section introduction (optional, Markdown)").first
    section_intro.fill("Book *early*")
    section_live = ann.get_by_role("region", name="Preview of section 1's introduction")
    expect(section_live.locator("em")).to_have_text("early", timeout=5_000)
