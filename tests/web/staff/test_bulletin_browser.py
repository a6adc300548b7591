"""Review and approval in Debian's Chromium against a real server, two people: the editor
builds December and asks for approval; the approver's email is read from the outbox and its
link followed (through sign-in); the approver rejects with a comment; the editor sees it,
fixes the month in the plan editor, rebuilds and asks again; the approver approves. A person
who changed the month and holds both roles is refused approval (four eyes). An axe check on
every page; screenshots (copied to docs/ when UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import email
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.config import Settings
from newsletter.models import ActivityEntry, Bulletin
from tests.conftest import REPO
from tests.factories import make_user
from tests.web.staff.support import PASSWORD
from tests.web.staff.test_plan_browser import _axe, _shot, _sign_in, site

pytestmark = pytest.mark.browser
__all__ = ["site"]

MONTH = "2026-12"


def _approval_link(settings: Settings) -> str:
    folder = Path(settings.data_dir, "outbox", "notifications")
    newest = max(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    message = email.message_from_bytes(newest.read_bytes())
    part = message.get_body(("plain",)) if hasattr(message, "get_body") else message
    payload = (part or message).get_payload(decode=True)
    assert isinstance(payload, bytes)
    text = payload.decode()
    assert "newsletter bulletin" not in text  # no shell command: a link to the page
    match = re.search(r"https?://\S+/admin/bulletins/\d{4}-\d{2}", text)
    assert match, text
    return match.group(0)


def test_the_editor_asks_the_approver_rejects_with_a_comment_then_approves_the_fixed_month(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, settings, engine = site
    with Session(engine) as session:
        make_user(session, email="eve@example.org", roles=["editor", "approver"])
        session.commit()
    ann = _sign_in(chromium, base, "ann@example.org")

    ann.goto(f"{base}/admin/bulletins/{MONTH}")
    _axe(ann)
    ann.get_by_role("button", name="Build the draft").click()
    expect(ann.locator("#status")).to_have_text("awaiting approval")
    ann.get_by_role("button", name="Check every link").click()
    expect(ann.locator("#link-check")).to_contain_text("targets checked")
    ann.get_by_role("button", name="Send proof copies").click()
    expect(ann.get_by_role("alert")).to_contain_text("proof copies sent to ann@example.org")
    ann.get_by_role("button", name="Ask for approval").click()
    expect(ann.get_by_role("alert")).to_contain_text("Asked 2 approvers")
    _axe(ann)
    _shot(ann, tmp_path, "bulletin-review.png")

    link = _approval_link(settings)
    carol = chromium.new_context(viewport={"width": 1200, "height": 900}).new_page()
    carol.goto(link)
    carol.get_by_label("Email address").fill("carol@example.org")
    carol.get_by_label("Password").fill(PASSWORD)
    carol.get_by_role("button", name="Sign in").click()
    carol.wait_for_url(link)
    _axe(carol)
    carol.get_by_role("button", name="Reject with this comment").click()
    expect(carol.locator("#comment-error")).to_contain_text("say what needs to change")
    _axe(carol)
    carol.get_by_label("What needs to change?").fill("Say which agencies the course is for.")
    carol.get_by_role("button", name="Reject with this comment").click()
    expect(carol.get_by_role("alert")).to_contain_text("sent back to the editors")

    ann.reload()
    expect(ann.locator("#rejection")).to_contain_text("Say which agencies the course is for.")
    ann.goto(f"{base}/admin/plan/months/{MONTH}")
    ann.get_by_label("Theme", exact=True).fill("Safer Sleep at Christmas, for every agency")
    ann.get_by_role("button", name="Save December 2026").click()
    expect(ann.get_by_role("alert")).to_contain_text("saved as revision")
    ann.goto(f"{base}/admin/bulletins/{MONTH}")
    expect(ann.locator("#status")).to_have_text("out of date")
    ann.get_by_role("button", name="Rebuild the draft").click()
    expect(ann.locator("#status")).to_have_text("awaiting approval")
    ann.get_by_role("button", name="Ask for approval again").click()
    expect(ann.get_by_role("alert")).to_contain_text("Asked 2 approvers")

    eve = _sign_in(chromium, base, "eve@example.org")
    eve.goto(f"{base}/admin/plan/months/{MONTH}")
    eve.get_by_label("Theme", exact=True).fill("Safer Sleep at Christmas, for all agencies")
    eve.get_by_role("button", name="Save December 2026").click()
    expect(eve.get_by_role("alert")).to_contain_text("saved as revision")
    eve.goto(f"{base}/admin/bulletins/{MONTH}")
    eve.get_by_role("button", name="Rebuild the draft").click()
    expect(eve.locator("#approve-blockers")).to_contain_text("four eyes")
    expect(eve.get_by_role("button", name="Approve December 2026")).to_have_count(0)
    _axe(eve)

    carol.goto(_approval_link(settings))
    _axe(carol)
    _shot(carol, tmp_path, "bulletin-approval.png")
    carol.get_by_role("button", name="Approve December 2026").click()
    # A busy machine may take a while to check the plan and record the approval.
    expect(carol.locator("#status")).to_have_text("approved", timeout=30_000)
    expect(carol.get_by_role("alert")).to_contain_text("December 2026 approved")
    _axe(carol)

    carol.get_by_label("Preview as").select_option("health")
    carol.get_by_role("button", name="Show this agency").click()
    frames = carol.locator(".variant")
    expect(frames.get_by_role("heading")).to_contain_text("Health")
    for frame in carol.frames[1:]:
        expect(frame.locator("body")).to_contain_text("View this bulletin in your browser")
    frames.scroll_into_view_if_needed()
    frames.screenshot(path=str(tmp_path / "bulletin-preview.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(tmp_path / "bulletin-preview.png", REPO / "docs" / "bulletin-preview.png")

    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        assert (bulletin.status, bulletin.approved_by) == ("approved", "carol@example.org")
        actions = [
            (e.actor, e.action)
            for e in session.exec(
                select(ActivityEntry)
                .where(col(ActivityEntry.action).startswith("bulletin."))
                .order_by(col(ActivityEntry.id))
            )
        ]
    assert ("carol@example.org", "bulletin.reject") in actions
    assert ("carol@example.org", "bulletin.approve") in actions
    assert actions.count(("ann@example.org", "bulletin.ask_approval")) == 2
    assert ("ann@example.org", "bulletin.proof") in actions
    assert ("ann@example.org", "bulletin.check_links") in actions
