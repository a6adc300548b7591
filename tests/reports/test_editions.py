"""An extra edition in the reports: it counts in its month's figures and is listed as its own
bulletin.

Worked out by hand: July 2026 ("Neglect") reached 10 health people, 5 of whom clicked the
course "neglect"; its extra edition 2026-07-correction ("Correction: Neglect dates") reached
4 police people, 2 of whom clicked the course "neglect-dates"; August 2026 ("Safer Sleep")
reached 6 health people, 3 clicking "safer-sleep". So July, as a month, reached 14 people with
7 course clicks (50.0 per 100 reached).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from newsletter.models import Bulletin, BulletinStatus, EventType
from newsletter.reports.board import build_board_report
from newsletter.reports.bookings import import_bookings
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.formats import training_text
from newsletter.reports.terminal import board_table
from newsletter.reports.training import build_training_report
from tests.factories import (
    make_agency,
    make_bulletin,
    make_delivery,
    make_event,
    make_link,
    make_subscriber,
    make_variant,
)

SENT = datetime(2026, 7, 7, 9, 0, tzinfo=UTC)


def _sent(
    session: Session, key: str, theme: str, agency: str, people: int, clickers: int, course: str
) -> Bulletin:
    bulletin = make_bulletin(session, month=key, theme=theme, status=BulletinStatus.sent)
    variant = make_variant(session, bulletin, agency=agency)
    link = make_link(session, bulletin, catalogue_id=course, title=course.replace("-", " "))
    for i in range(people):
        d = make_delivery(
            session, bulletin, make_subscriber(session, agency=agency), variant, sent_at=SENT
        )
        make_event(session, d, type=EventType.open, occurred_at=SENT + timedelta(hours=1))
        if i < clickers:
            make_event(
                session,
                d,
                type=EventType.click,
                link_id=link.id,
                occurred_at=SENT + timedelta(hours=1),
            )
    return bulletin


def build(session: Session) -> None:
    make_agency(session, slug="health", name="Health", position=1)
    make_agency(session, slug="police", name="Police", position=2)
    _sent(session, "2026-07", "Neglect", "health", 10, 5, "neglect")
    _sent(
        session, "2026-07-correction", "Correction: Neglect dates", "police", 4, 2, "neglect-dates"
    )
    _sent(session, "2026-08", "Safer Sleep", "health", 6, 3, "safer-sleep")
    session.commit()


def test_a_months_range_takes_its_extra_editions_and_lists_each_bulletin(
    session: Session,
) -> None:
    build(session)

    report = build_training_report(session, month_from="2026-07", month_to="2026-07")

    assert report.months == ["2026-07"]
    assert report.bulletins == ["2026-07", "2026-07-correction"]
    assert sorted((r.month, r.course_id, r.clicks.unique_human) for r in report.rows) == [
        ("2026-07", "neglect", 5),
        ("2026-07-correction", "neglect-dates", 2),
    ]


def test_the_board_counts_an_extra_edition_in_its_month_and_names_it_beside_the_theme(
    session: Session,
) -> None:
    build(session)

    board = build_board_report(session, month_from="2026-07", month_to="2026-08")

    assert [(m.month, m.theme, m.reached, m.course_clicks) for m in board.months] == [
        ("2026-07", "Neglect; extra edition: Correction: Neglect dates", 14, 7),
        ("2026-08", "Safer Sleep", 6, 3),
    ]
    assert [c.course_id for c in board.months[0].courses] == ["neglect", "neglect-dates"]
    assert board.figure("reached").value == 20
    flat = " ".join(board_table(board, min_count=1).split())
    assert "July 2026: Neglect; extra edition: Correction: Neglect dates" in flat


def test_an_extra_edition_has_its_own_bulletin_report(session: Session) -> None:
    build(session)

    report = build_bulletin_report(session, month="2026-07-correction")

    assert (report.month, report.theme) == ("2026-07-correction", "Correction: Neglect dates")
    assert [(r.agency, r.delivered, r.clickers.unique_human) for r in report.reach] == [
        ("police", 4, 2)
    ]


def test_a_months_bookings_go_with_its_own_bulletin_once_when_an_extra_carries_the_course(
    session: Session,
) -> None:
    make_agency(session, slug="health", name="Health", position=1)
    _sent(session, "2026-07", "Neglect", "health", 10, 5, "neglect")
    _sent(session, "2026-07-urgent", "Urgent: Neglect", "health", 10, 1, "neglect")
    import_bookings(
        session,
        "course_id,agency,month,bookings,attended\nneglect,health,2026-07,6,4\n",
        catalogue=["neglect"],
    )
    session.commit()

    report = build_training_report(session, month_from="2026-07", month_to="2026-07")
    board = build_board_report(session, month_from="2026-07", month_to="2026-07")

    assert sorted((r.month, r.bookings) for r in report.rows) == [
        ("2026-07", 6),
        ("2026-07-urgent", None),
    ]
    assert report.unmatched_bookings == []
    assert board.figure("bookings").value == 6


def test_the_raw_rows_give_each_bulletin_and_the_month_it_counts_in(session: Session) -> None:
    build(session)
    report = build_training_report(session, month_from="2026-07", month_to="2026-07")

    doc = json.loads(training_text(report, fmt="json", min_count=1))
    csv_text = training_text(report, fmt="csv", min_count=1)

    assert doc["columns"][:3] == ["month", "bulletin", "course_id"]
    assert sorted((r["month"], r["bulletin"], r["course_id"]) for r in doc["rows"]) == [
        ("2026-07", "2026-07", "neglect"),
        ("2026-07", "2026-07-correction", "neglect-dates"),
    ]
    assert "\n2026-07,2026-07-correction,neglect-dates," in csv_text
