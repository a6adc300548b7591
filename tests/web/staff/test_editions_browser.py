"""An editor adds an extra edition to December 2026 in Debian's Chromium: from the calendar,
its short name and title, a copy of December's theme, its own send date, saved; the calendar
lists it under December. An axe check on every page on the way; screenshots of the new page and
of the calendar with the extra (copied to docs/ when UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.config import Settings
from newsletter.plan.store import current_revision
from tests.conftest import REPO
from tests.web.staff.test_plan_browser import _axe, _shot, _sign_in, site

pytestmark = pytest.mark.browser
__all__ = ["site"]  # the fixture, shared with the planning journey


def test_an_editor_adds_an_extra_edition_to_a_month_from_the_calendar(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, _settings, engine = site
    ann = _sign_in(chromium, base, "ann@example.org")

    ann.goto(f"{base}/admin/calendar")
    ann.get_by_role("link", name="Add an extra edition to December 2026").click()
    expect(ann.get_by_role("heading", name="Add an extra edition to December 2026")).to_be_visible()
    _axe(ann)

    # A name that cannot be used: said beside the field and in the summary.
    ann.get_by_label("Short name").fill("Correction!")
    ann.get_by_label("Title", exact=True).fill("Correction: the Safer Sleep course dates")
    ann.get_by_label("Start from").select_option("2026-12")
    ann.get_by_role("button", name="Continue").click()
    expect(ann.locator(".error-summary")).to_contain_text("may use only lower-case letters")
    expect(ann.locator("#edition-error")).to_contain_text("may use only lower-case letters")
    _axe(ann)
    _shot(ann, tmp_path, "staff-extra-edition.png")

    ann.get_by_label("Short name").fill("correction")
    ann.get_by_role("button", name="Continue").click()
    expect(
        ann.get_by_role(
            "heading", name="December 2026 (correction): Correction: the Safer Sleep course dates"
        )
    ).to_be_visible()
    expect(ann.get_by_text("Copied from December 2026")).to_be_visible()
    _axe(ann)

    # Without a send date of its own it is refused, beside the field.
    ann.get_by_role("button", name="Save December 2026 (correction)").click()
    expect(ann.locator(".error-summary")).to_contain_text("is required for an extra edition")
    _axe(ann)
    ann.get_by_label("Send date").fill("2026-12-01")
    ann.get_by_label("Send time").fill("14:00")
    ann.get_by_role("button", name="Save December 2026 (correction)").click()
    expect(ann.get_by_text("December 2026 (correction) saved as revision 2")).to_be_visible()

    ann.goto(f"{base}/admin/calendar")
    row = ann.locator("#month-2026-12-correction")
    expect(row).to_contain_text("extra edition")
    expect(row).to_contain_text("Correction: the Safer Sleep course dates")
    expect(row).to_contain_text("Tuesday 1 December 2026, 2pm")
    _axe(ann)
    row.scroll_into_view_if_needed()
    path = tmp_path / "staff-calendar-extra.png"
    top = ann.locator("#month-2026-10").bounding_box()
    bottom = ann.locator("#month-2027-02").bounding_box()
    assert top is not None
    assert bottom is not None
    scrolled = float(ann.evaluate("window.scrollY"))  # boxes are in the viewport, clips not
    clip = {
        "x": 0,
        "y": top["y"] + scrolled - 60,
        "width": 1200,
        "height": bottom["y"] - top["y"] + 60,
    }
    ann.screenshot(path=str(path), full_page=True, clip=clip)
    if os.environ.get("UPDATE_SCREENSHOTS"):
        shutil.copyfile(path, REPO / "docs" / "staff-calendar-extra.png")

    with Session(engine) as session:
        revision = current_revision(session)
        assert revision is not None
        assert "themes/2026-12-correction.yaml" in revision.documents
