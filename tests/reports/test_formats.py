"""Report formats: CSV and JSON shapes, the bulletin report's numbers, and small numbers hidden
in every format (table, CSV, JSON, HTML)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from sqlmodel import Session

from newsletter.config import Settings
from newsletter.reports.board import board_from
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.formats import bulletin_text, training_text
from newsletter.reports.html import bulletin_html, training_html
from newsletter.reports.public import TRAINING_COLUMNS
from newsletter.reports.training import build_training_report
from tests.conftest import make_settings
from tests.reports.fixture import build_july


def _csv_rows(text: str) -> list[dict[str, str]]:
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


def test_training_csv_opens_with_notes_then_one_row_per_course_agency_and_month(
    session: Session,
) -> None:
    build_july(session)
    text = training_text(build_training_report(session), fmt="csv", min_count=0)
    notes = [line for line in text.splitlines() if line.startswith("#")]
    assert any("scanner (2 events, rules v1)" in n for n in notes)
    assert any("apple-mpp (1 events, rules v1)" in n for n in notes)
    rows = _csv_rows(text)
    assert list(rows[0]) == [c.key for c in TRAINING_COLUMNS]
    assert [(r["course_id"], r["agency"], r["month"]) for r in rows] == [
        ("icon", "health", "2026-07"),
        ("icon", "police", "2026-07"),
        ("neglect", "police", "2026-07"),
    ]
    assert rows[0]["clickers"] == "4"
    assert rows[0]["ctr"] == "80.0"
    assert rows[0]["bookings"] == ""


def test_training_json_states_the_machine_rules_the_threshold_and_every_column(
    session: Session,
) -> None:
    build_july(session)
    doc = json.loads(training_text(build_training_report(session), fmt="json", min_count=5))
    assert doc["report"] == "training"
    assert doc["min_count"] == 5
    assert {"rules_version": "v1", "reason": "scanner", "events": 2} in doc["machine_activity"][
        "rules"
    ]
    assert "machine activity" in doc["machine_activity"]["statement"]
    first = doc["rows"][0]
    assert list(first) == doc["columns"]
    assert first["clickers"] == "<5"
    assert first["clickers_raw"] == 5
    assert first["ctr_raw"] == 100.0


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_small_numbers_are_hidden_in_every_training_format(
    session: Session, tmp_path: Path, fmt: str
) -> None:
    build_july(session)
    report = build_training_report(session)
    hidden = make_settings(tmp_path, report_min_count=5)
    shown = make_settings(tmp_path, report_min_count=0)

    def render(settings: Settings) -> str:
        if fmt == "html":
            board = board_from(report, None, period=None, scope="all agencies")
            html = training_html(board, settings=settings)
            return " ".join(re.sub(r"<[^>]+>", " ", html).split())
        return training_text(report, fmt=fmt, min_count=settings.report_min_count)  # type: ignore[arg-type]

    # ICON x health: 4 human clickers of 5 delivered; with the threshold off they show.
    visible, masked = render(shown), render(hidden)
    four = {
        "table": "4 (5)",
        "csv": "4,5,",
        "json": '"clickers": 4,',
        "html": "Health 4 (80.0%)",
    }
    lt = {
        "table": "<5 (5)",
        "csv": "<5,5,",
        "json": '"clickers": "<5",',
        "html": "Health fewer than 5 people (–)",
    }
    assert four[fmt] in visible
    assert four[fmt] not in masked
    assert lt[fmt] in masked


def test_the_bulletin_report_counts_by_agency_link_section_and_course(session: Session) -> None:
    build_july(session)
    doc = json.loads(
        bulletin_text(build_bulletin_report(session, month="2026-07"), fmt="json", min_count=0)
    )
    total = doc["by_agency"][-1]
    assert total["agency"] == "all"
    assert (total["sent_raw"], total["bounced"], total["delivered"]) == (9, 1, 8)
    assert (total["clickers"], total["clickers_raw"]) == (5, 6)
    links = {link["position"]: link for link in doc["links"]}
    assert (links[1]["clickers"], links[1]["clickers_raw"]) == (3, 4)
    assert (links[1]["clicks"], links[1]["clicks_raw"]) == (4, 6)
    assert (links[2]["clickers"], links[2]["clicks"]) == (2, 2)
    assert links[4]["clicks_raw"] == 0
    assert doc["feedback"] == [
        {"section": "Training", "yes": 1, "yes_raw": 1, "no": 0, "no_raw": 0}
    ]
    assert [(c["course_id"], c["clickers"], c["clickers_raw"]) for c in doc["top_courses"]] == [
        ("icon", 4, 5),
        ("neglect", 1, 1),
    ]


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "html"])
def test_small_numbers_are_hidden_in_every_bulletin_format(
    session: Session, tmp_path: Path, fmt: str
) -> None:
    build_july(session)
    report = build_bulletin_report(session, month="2026-07")
    settings = make_settings(tmp_path, report_min_count=5)
    if fmt == "html":
        text = bulletin_html(report, settings=settings)
    else:
        text = bulletin_text(report, fmt=fmt, min_count=5)  # type: ignore[arg-type]
    if fmt == "csv":
        blocks = text.split("# links\n")[1].split("\n\n")[0]
        link_one = next(csv.DictReader(io.StringIO(blocks)))
        assert (link_one["clickers"], link_one["clickers_raw"]) == ("<5", "<5")
    elif fmt == "json":
        police = json.loads(text)["by_agency"][1]
        assert police["agency"] == "police"
        assert police["delivered"] == "<5"
        assert police["unsubscribes"] == "<5"
    elif fmt == "html":
        assert "&lt;5 (&lt;5)" in text
        assert "3 (4)" not in text  # link 1's clickers
    else:
        # The terminal shows human figures only (raw in CSV and JSON), by agency name.
        police = next(line for line in text.splitlines() if line.strip().startswith("Police"))
        assert police.split()[1:] == ["<5", "0", "0", "<5", "<5", "–*", "<5"]
        assert max(len(line) for line in text.splitlines()) <= 100


def test_the_html_report_is_one_file_without_scripts_or_external_references(
    session: Session, tmp_path: Path
) -> None:
    build_july(session)
    board = board_from(build_training_report(session), None, period=None, scope="all agencies")
    html = training_html(board, settings=make_settings(tmp_path))
    assert html.count("<svg") == 2
    assert "<script" not in html
    assert "<link" not in html
    assert "@media print" in html
    for needle in ("src=", "url(http", "@import", 'href="http'):
        assert needle not in html
