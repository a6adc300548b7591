"""The reports in a real browser: they open from a file with no network request at all, pass
an axe check, and nothing scrolls sideways on a 375 px phone. The screenshots in docs/
(report-training.png, report-training-pdf.png) are refreshed from here with UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from newsletter.db import make_engine
from newsletter.reports.board import build_board_report
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.html import bulletin_html, training_html
from newsletter.reports.pdf import training_pdf
from tests.conftest import REPO, make_settings
from tests.reports.demo import build_demo
from tests.reports.fixture import build_july

UPDATE = bool(os.environ.get("UPDATE_SCREENSHOTS"))


def serious_violations(page: Any) -> list[str]:
    """axe's serious and critical violations on the page, as 'rule: target' lines."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {node['target']}"
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
        for node in v["nodes"]
    ]


def _demo_files(tmp_path: Path, template: Path) -> tuple[Path, Path]:
    db = tmp_path / "demo.db"
    shutil.copyfile(template, db)
    engine = make_engine(f"sqlite:///{db}")
    settings = make_settings(tmp_path)
    with Session(engine) as session:
        build_demo(session)
        board = build_board_report(session, month_from="2026-02", month_to="2026-07")
    engine.dispose()
    html = tmp_path / "report.html"
    html.write_text(training_html(board, settings=settings), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(training_pdf(board, settings=settings))
    return html, pdf


@pytest.mark.browser
def test_the_training_report_opens_without_network_passes_axe_and_fits_a_phone(
    tmp_path: Path, request: pytest.FixtureRequest, chromium: Any
) -> None:
    html, pdf = _demo_files(tmp_path, request.getfixturevalue("_sqlite_template"))
    requested: list[str] = []
    page = chromium.new_page(viewport={"width": 1100, "height": 900})
    page.on("request", lambda r: requested.append(r.url))
    page.goto(html.as_uri(), wait_until="load")
    assert requested == [html.as_uri()]
    assert page.locator("h1").inner_text() == "Training links: February to July 2026"
    charts = page.locator("figure svg[role=img]")
    assert charts.count() == 3  # themes ranked, month by month, the course x agency heat map
    box = charts.first.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert serious_violations(page) == []
    shot = tmp_path / "report-training.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload(wait_until="load")
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 375, f"the page scrolls sideways on a phone: {overflow}px wide"
    assert serious_violations(page) == []
    phone = tmp_path / "report-training-phone.png"
    page.screenshot(path=str(phone), full_page=False)

    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        first = tmp_path / "report-training-pdf.png"
        document[0].render(scale=1.25).to_pil().save(first)
    finally:
        document.close()
    assert first.stat().st_size > 10_000
    if UPDATE:  # refresh the pictures in docs/ deliberately only
        for picture in (shot, phone, first):
            shutil.copyfile(picture, REPO / "docs" / picture.name)


@pytest.mark.browser
def test_the_bulletin_report_passes_axe_and_fits_a_phone(
    tmp_path: Path, request: pytest.FixtureRequest, chromium: Any
) -> None:
    db = tmp_path / "july.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        build_july(session)
        report = build_bulletin_report(session, month="2026-07")
    engine.dispose()
    page_file = tmp_path / "bulletin.html"
    page_file.write_text(bulletin_html(report, settings=make_settings(tmp_path)), "utf-8")
    page = chromium.new_page(viewport={"width": 375, "height": 800})
    page.goto(page_file.as_uri(), wait_until="load")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert serious_violations(page) == []
