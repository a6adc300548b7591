"""The board report against the hand-computed June and July fixtures (tests/reports/fixture.py),
in every format: the terminal table, HTML, PDF, JSON and CSV, small numbers hidden in each.

Worked out by hand (threshold 5 unless a test says otherwise):

July 2026 against June 2026
    people reached 8 (health 6 sent - 1 bounce, police 3) against 20: down 60%
    opened (indicative) 2 (h1, h6): "fewer than 5 people"; June 10
    course clicks 5 (ICON x health 4, ICON x police 0, Neglect x police 1) against 7: down 29%
    (a change of 2, below the threshold, so not a sentence)
    course clicks per 100 reached 62.5 (5 / 8) against 35.0 (7 / 20)
    ICON: 4 of 8 reached -> count hidden, rate a dash; by agency health 4 of 5 (hidden, dash),
    police 0 of 3 (0 shows; the rate's denominator 3 is hidden, so a dash)
    Neglect: 1 of 3 (police only) -> hidden, dash
June and July 2026 (nothing sent in April and May)
    reached 28, opened 12, course clicks 12; themes: July 62.5 per 100, June 35.0
    June's Neglect: 7 of 20 = 35.0%; health 5 of 10 = 50.0%, police 2 of 10 hidden
    course x agency over both months: only Neglect x health (5 of 10) can be shown: 1 of 4 cells,
    so a ranked table instead of a heat map
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import Session

from newsletter.config import Settings
from newsletter.reports.board import BoardReport, build_board_report
from newsletter.reports.bookings import import_bookings
from newsletter.reports.formats import training_text
from newsletter.reports.html import training_html
from newsletter.reports.pdf import PdfUnavailable
from newsletter.reports.pdf import training_pdf as _training_pdf
from newsletter.reports.terminal import WIDTH, board_table
from tests.conftest import IN_CI, make_settings
from tests.reports.demo import build_demo
from tests.reports.fixture import build_july, build_june


def training_pdf(board: BoardReport, *, settings: Settings) -> bytes:
    """The PDF; skips with a reason where Pango is missing, except under CI=true."""
    try:
        return _training_pdf(board, settings=settings)
    except PdfUnavailable as exc:
        if IN_CI:
            raise
        pytest.skip(str(exc))


def _flat(text: str) -> str:
    """Text with every run of whitespace made one space (tables, wrapped lines, PDF text)."""
    return " ".join(text.split())


def _july(session: Session) -> BoardReport:
    build_july(session)
    build_june(session)
    return build_board_report(session, month_from="2026-07", month_to="2026-07")


def _both(session: Session) -> BoardReport:
    build_july(session)
    build_june(session)
    return build_board_report(session, month_from="2026-06", month_to="2026-07")


def _pdf_text(pdf: bytes) -> tuple[int, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), [_flat(page.extract_text()) for page in reader.pages]


def test_the_headline_counts_people_reached_opened_and_course_clicks_against_the_month_before(
    session: Session,
) -> None:
    board = _july(session)
    assert [(f.key, f.value, f.previous) for f in board.headline] == [
        ("reached", 8, 20),
        ("opened", 2, 10),
        ("clicks", 5, 7),
        ("bookings", None, None),
    ]
    assert board.clicks_raw == 6  # h2's scanner click counts in the raw figure only
    assert [(m.month, m.theme, m.reached, m.course_clicks) for m in board.months] == [
        ("2026-07", "Non-Accidental Injuries", 8, 5)
    ]
    icon, neglect = board.months[0].courses
    assert (icon.course, icon.clickers, icon.delivered) == ("ICON: babies cry, you can cope", 4, 8)
    assert [(a.name, a.clickers, a.delivered) for a in icon.agencies] == [
        ("Health", 4, 5),
        ("Police", 0, 3),
    ]
    assert (neglect.course, neglect.clickers, neglect.delivered) == ("Child Neglect", 1, 3)


HEADLINE_TABLE = [
    "Training links: July 2026 (all agencies; course links)",
    "People reached 8 down 60% from 20 in June 2026",
    "Opened (indicative) fewer than 5 people June 2026: 10",
    "Course clicks 5 down 29% from 7 in June 2026",
    "- People reached fell by 60%, from 20 to 8.",
    "- Course clicks per 100 people reached rose from 35.0 to 62.5.",
    "July 2026 Non-Accidental Injuries 8 5 62.5",
    "ICON: babies cry, you can cope fewer than 5 people –",
    "Child Neglect fewer than 5 people –",
    "ICON: babies cry, you can cope, by agency: Health fewer than 5 people (–); Police 0 (–)",
    "– A rate is not shown where it is built on fewer than 5 people",
]


def test_the_terminal_table_writes_every_figure_in_words_with_small_numbers_hidden(
    session: Session,
) -> None:
    text = board_table(_july(session), min_count=5)
    flat = _flat(text)
    for expected in HEADLINE_TABLE:
        assert expected in flat, expected
    assert "Bookings" not in flat  # none imported: no row of "not imported"
    assert "<5" not in text
    assert "Opens (indicative) fell" not in flat  # a hidden figure makes no sentence


def test_the_terminal_table_fits_100_columns_and_wide_shows_every_column(
    session: Session,
) -> None:
    build_demo(session)  # long course and agency names, six months
    board = build_board_report(session)
    text = board_table(board, min_count=5)
    assert len(text.splitlines()) > 30
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    wide = training_text(board.training, fmt="table", min_count=5)
    assert max(len(line) for line in wide.splitlines()) > WIDTH
    assert "Unique clickers (raw)" in wide
    assert "childrens-social-care" in wide  # the analysts' view keeps the ids


def test_without_the_threshold_the_table_shows_every_count_and_rate(session: Session) -> None:
    flat = _flat(board_table(_july(session), min_count=0))
    assert "ICON: babies cry, you can cope 4 50.0%" in flat
    assert "Health 4 (80.0%); Police 0 (0.0%)" in flat
    assert "Child Neglect 1 33.3%" in flat
    assert "Opens (indicative) fell by 80%, from 10 to 2." in flat
    assert "Course clicks fell by 29%, from 7 to 5." in flat


def test_two_months_rank_the_themes_and_say_there_is_nothing_before_them(
    session: Session,
) -> None:
    flat = _flat(board_table(_both(session), min_count=5))
    assert "People reached 28 no bulletin in April to May 2026 to compare with" in flat
    assert "There is nothing to compare with: no bulletin was sent in April to May 2026." in flat
    assert (
        "July 2026's theme, Non-Accidental Injuries, drew the most course clicks: "
        "62.5 per 100 people reached (fewest: Neglect, 35.0)."
    ) in flat
    themes = flat.index("July 2026 Non-Accidental Injuries 8 5 62.5")
    assert flat.index("June 2026 Neglect 20 7 35.0") > themes
    assert "Child Neglect 7 35.0%" in flat
    assert "Child Neglect, by agency: Health 5 (50.0%); Police fewer than 5 people (–)" in flat


def test_the_html_report_has_the_same_figures_and_a_ranked_table_when_most_cells_are_hidden(
    session: Session, tmp_path: Path
) -> None:
    html = training_html(_both(session), settings=make_settings(tmp_path))
    text = _flat(re.sub(r"<[^>]+>", " ", html))
    for expected in (
        "People reached 28 no bulletin in April to May 2026 to compare with",
        "Opened (indicative) 12",
        "Course clicks 12",
        "July 2026: Non-Accidental Injuries 8 5 62.5",
        "June 2026: Neglect 20 7 35.0",
        "Child Neglect 7 35.0%",
        "Health 5 (50.0%)",
        "Police fewer than 5 people (–)",
        "ICON: babies cry, you can cope fewer than 5 people –",
        "3 of 4 course-and-agency pairs are not shown",
        "Child Neglect Health 5 50.0%",
    ):
        assert expected in text, expected
    assert "&lt;5" not in html
    assert html.count('<svg role="img"') == 2  # themes ranked, month by month; no heat map
    assert "<script" not in html
    for needle in ("src=", "url(http", "@import", 'href="http', "<link"):
        assert needle not in html


def test_a_heat_map_is_drawn_where_most_cells_can_be_shown(
    session: Session, tmp_path: Path
) -> None:
    build_demo(session)
    html = training_html(build_board_report(session), settings=make_settings(tmp_path))
    assert 'aria-label="Click-through by course and agency (whole period)"' in html


def test_the_pdf_is_a4_with_the_period_and_page_numbers_on_every_page(
    session: Session, tmp_path: Path
) -> None:
    pdf = training_pdf(_both(session), settings=make_settings(tmp_path))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    count, pages = _pdf_text(pdf)
    assert count >= 2
    for number, page in enumerate(reader.pages, start=1):
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(width), round(height)) == (595, 842)  # A4 in points
        assert "Training links: June to July 2026" in pages[number - 1]
        assert f"Page {number} of {count}" in pages[number - 1]
    first = pages[0]
    assert "People reached 28" in first
    assert "There is nothing to compare with: no bulletin was sent in April to May 2026." in first
    whole = " ".join(pages)
    assert "Child Neglect 7 35.0%" in whole
    assert "Police fewer than 5 people (–)" in whole
    assert "Appendix: methods" in pages[-1]
    assert "Appendix: methods" not in pages[0]


def test_json_keeps_every_raw_column_and_adds_the_headline_with_the_same_suppression(
    session: Session,
) -> None:
    board = _july(session)
    doc = json.loads(training_text(board.training, fmt="json", min_count=5, board=board))
    summary = doc["summary"]
    assert summary["period"] == {"from": "2026-07", "to": "2026-07"}
    assert summary["previous_period"] == {"from": "2026-06", "to": "2026-06"}
    assert [(h["measure"], h["value"], h["previous"]) for h in summary["headline"]] == [
        ("reached", 8, 20),
        ("opened", "<5", 10),
        ("clicks", 5, 7),
        ("bookings", None, None),
    ]
    assert summary["themes"] == [
        {
            "month": "2026-07",
            "theme": "Non-Accidental Injuries",
            "reached": 8,
            "course_clicks": 5,
            "course_clicks_per_100_reached": 62.5,
        }
    ]
    rows = {(r["course_id"], r["agency"]): r for r in doc["rows"]}
    icon = rows[("icon", "health")]
    assert list(icon) == doc["columns"]
    assert (icon["clickers"], icon["clickers_raw"], icon["ctr"], icon["ctr_raw"]) == (
        "<5",
        5,
        "suppressed",
        100.0,
    )
    assert rows[("icon", "police")]["ctr"] == "suppressed"  # 0 of 3: the 3 is hidden


def test_csv_keeps_every_raw_column_and_writes_a_hidden_rate_as_suppressed(
    session: Session,
) -> None:
    board = _july(session)
    text = training_text(board.training, fmt="csv", min_count=5)
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    rows = {(r["course_id"], r["agency"]): r for r in csv.DictReader(io.StringIO(body))}
    icon = rows[("icon", "health")]
    assert (icon["clickers"], icon["clickers_raw"], icon["ctr"], icon["ctr_raw"]) == (
        "<5",
        "5",
        "suppressed",
        "100.0",
    )
    assert rows[("neglect", "police")]["ctr"] == "suppressed"
    assert "rates built on them as suppressed" in text


def test_bookings_show_beside_clicks_with_clicks_to_bookings(
    session: Session, tmp_path: Path
) -> None:
    build_july(session)
    build_june(session)
    import_bookings(
        session, "course_id,agency,month,bookings,attended\nneglect,health,2026-06,6,4\n"
    )
    session.commit()
    board = build_board_report(session, month_from="2026-06", month_to="2026-07")
    assert board.figure("bookings").value == 6
    flat = _flat(board_table(board, min_count=5))
    assert "Bookings 6 no bulletin in April to May 2026 to compare with" in flat
    assert "Child Neglect 7 35.0% 6 85.7%" in flat
    html = _flat(re.sub(r"<[^>]+>", " ", training_html(board, settings=make_settings(tmp_path))))
    assert "Child Neglect 7 35.0% 6 85.7%" in html


@pytest.mark.parametrize("fmt", ["table", "html", "pdf"])
def test_an_empty_period_says_so_in_one_line(session: Session, tmp_path: Path, fmt: str) -> None:
    build_july(session)
    board = build_board_report(session, month_from="2026-09", month_to="2026-09")
    line = "No bulletin was sent in September 2026, so there is nothing to report."
    if fmt == "table":
        assert board_table(board, min_count=5) == line + "\n"
    elif fmt == "html":
        html = training_html(board, settings=make_settings(tmp_path))
        assert line in html
        assert "<table" not in html
    else:
        count, pages = _pdf_text(training_pdf(board, settings=make_settings(tmp_path)))
        assert count == 1
        assert line in pages[0]


def test_a_bulletin_nobody_has_clicked_yet_is_one_line_not_rows_of_zeros(
    session: Session,
) -> None:
    from tests.factories import (
        make_agency,
        make_bulletin,
        make_delivery,
        make_link,
        make_subscriber,
        make_variant,
    )

    make_agency(session, slug="health", name="Health", position=1)
    bulletin = make_bulletin(session, month="2026-08", theme="Online Safety", status="sent")
    variant = make_variant(session, bulletin, agency="health")
    for n in range(8):
        make_link(session, bulletin, position=n + 1, catalogue_id=f"c{n}", title=f"Course {n}")
    for _ in range(6):
        make_delivery(session, bulletin, make_subscriber(session, agency="health"), variant)
    session.commit()
    board = build_board_report(session, month_from="2026-08", month_to="2026-08")
    text = board_table(board, min_count=5)
    flat = _flat(text)
    assert "August 2026: Online Safety No course link has been clicked yet." in flat
    assert "Course 3" not in text
    assert "People reached 6" in flat
