"""The HTML report in a real browser: it opens from a file with no network request at all,
and its charts render (a screenshot goes to docs/report-training.png)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from newsletter.db import make_engine
from newsletter.reports.html import training_html
from newsletter.reports.training import build_training_report
from tests.conftest import REPO, make_settings
from tests.reports.demo import build_demo


@pytest.mark.browser
def test_the_html_report_opens_in_chromium_without_any_network_request(
    tmp_path: Path, request: pytest.FixtureRequest, chromium: Any
) -> None:
    db = tmp_path / "demo.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        build_demo(session)
        report = build_training_report(session)
    engine.dispose()
    page_file = tmp_path / "report.html"
    page_file.write_text(training_html(report, settings=make_settings(tmp_path)), encoding="utf-8")

    requested: list[str] = []
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.on("request", lambda request: requested.append(request.url))
    page.goto(page_file.as_uri(), wait_until="load")
    assert page.locator("figure svg").count() == 3
    box = page.locator("figure svg").first.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 150
    assert "Course click-through by month" in page.locator("figure").first.inner_text()
    page.emulate_media(media="print")
    assert page.locator("figure svg").nth(1).is_visible()
    page.emulate_media(media="screen")
    shot = tmp_path / "report-training.png"
    page.locator(".charts").screenshot(path=str(shot), scale="css")
    assert shot.stat().st_size > 10_000
    assert requested == [page_file.as_uri()]
    if os.environ.get("UPDATE_SCREENSHOTS"):  # refresh the picture in docs/ deliberately only
        shutil.copyfile(shot, REPO / "docs" / "report-training.png")
