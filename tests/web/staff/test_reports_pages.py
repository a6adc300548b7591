"""The reports in the staff app: for everyone signed in, whatever their roles; the same
numbers as `newsletter report`, with filters and downloads in every format."""

from __future__ import annotations

import re

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.reports.output import training_output
from tests.factories import make_user
from tests.reports.fixture import build_july, build_june
from tests.web.staff.support import sign_in, sign_in_fully, staff_client


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_report_pages_send_a_stranger_to_the_sign_in_form_and_back(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        for path in (
            "/admin/reports",
            "/admin/reports/training",
            "/admin/reports/training/chart/trend.svg",
            "/admin/reports/bulletin/2026-07",
        ):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/admin/sign-in?next=%2Fadmin%2F")
        back = sign_in(client, user.email, next="/admin/reports")
        assert back.headers["location"] == "/admin/reports"


def test_the_reports_page_shows_the_same_figures_as_the_cli_for_the_filters_chosen(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    build_june(session)
    user = make_user(session)  # no role at all: reports are for everyone signed in
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        page = client.get("/admin/reports", params={"from": "2026-06", "to": "2026-07"})
        assert page.status_code == 200
        text = _text(page.text)
        for expected in (
            "Training links: June to July 2026",
            "People reached 28",
            "no bulletin in April to May 2026 to compare with",
            "July 2026: Non-Accidental Injuries 8 5 62.5",
            "June 2026: Neglect 20 7 35.0",
            "Child Neglect 7 35.0%",
            "Police fewer than 5 people (–)",
        ):
            assert expected in text, expected
        assert "&lt;5" not in page.text
        police = client.get(
            "/admin/reports", params={"from": "2026-07", "to": "2026-07", "agency": "police"}
        )
        flat = _text(police.text)
        assert "Police; course links" in flat
        assert "People reached fewer than 5 people" in flat  # 3 police people in July
        assert "Health" not in flat.split("Courses by theme month")[1].split("Notes")[0]
        cli = training_output(
            session,
            settings,
            fmt="table",
            month_from="2026-07",
            month_to="2026-07",
            agency="police",
        )
        session.rollback()
        assert isinstance(cli.content, str)
        assert "People reached fewer than 5 people" in " ".join(cli.content.split())


def test_every_download_of_the_page_answers_in_its_format(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    build_june(session)
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        page = client.get("/admin/reports", params={"from": "2026-06", "to": "2026-07"})
        links = re.findall(r'href="(/admin/reports/training\?[^"]+)"', page.text)
        assert len(links) == 5
        types = {}
        for link in links:
            response = client.get(link.replace("&amp;", "&"))
            assert response.status_code == 200, link
            types[response.headers["content-type"].split(";")[0]] = response
        assert set(types) == {
            "application/pdf",
            "text/html",
            "text/csv",
            "application/json",
            "text/plain",
        }
        assert types["application/pdf"].content.startswith(b"%PDF-")
        expected = training_output(
            session, settings, fmt="csv", month_from="2026-06", month_to="2026-07"
        )
        session.rollback()  # end the read: on SQLite every transaction holds the write lock
        assert types["text/csv"].text == expected.content
        assert "attachment" in types["text/csv"].headers["content-disposition"]
        charts = re.findall(r'<img class="report-chart" src="([^"]+)"', page.text)
        assert len(charts) == 2  # themes, month by month (most course x agency cells hidden)
        for src in charts:
            svg = client.get(src.replace("&amp;", "&"))
            assert svg.headers["content-type"] == "image/svg+xml"
            assert svg.text.startswith("<svg")
        bulletin = client.get("/admin/reports/bulletin/2026-07")
        assert "Click map" in bulletin.text
        assert client.get(
            "/admin/reports/bulletin/2026-07", params={"format": "pdf"}
        ).content.startswith(b"%PDF-")
        assert client.get("/admin/reports/bulletin/2030-01").status_code == 404


def test_bad_filters_are_named_in_an_error_summary_and_nothing_is_counted(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        page = client.get("/admin/reports", params={"from": "July", "to": "2026-07"})
        assert page.status_code == 400
        assert 'href="#from"' in page.text
        assert "From must be a month written as YYYY-MM" in page.text
        assert "Headline" not in page.text
        later = client.get("/admin/reports", params={"from": "2026-08", "to": "2026-07"})
        assert later.status_code == 400
        assert "To must be the same month as From or later" in later.text
        nothing = client.get("/admin/reports", params={"kind": "video"})
        assert nothing.status_code == 400
        assert "Choose at least one kind of link" in nothing.text
        empty = client.get("/admin/reports", params={"from": "2027-01", "to": "2027-01"})
        assert empty.status_code == 200
        assert "No bulletin was sent in January 2027, so there is nothing to report." in empty.text


def test_someone_without_any_role_reads_both_reports_in_every_format(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        index = client.get("/admin/")
        assert "Non-Accidental Injuries" in index.text
        training = client.get("/admin/reports/training")
        assert training.status_code == 200
        assert '<h2 id="headline">Headline</h2>' in training.text
        assert training.text.count('<svg role="img"') == 2  # themes compared, month by month
        assert "default-src 'none'" in training.headers["content-security-policy"]
        as_csv = client.get("/admin/reports/training", params={"format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "2026-07,neglect,Child Neglect,course,police,<5" in as_csv.text
        as_pdf = client.get("/admin/reports/training", params={"format": "pdf"})
        assert as_pdf.headers["content-type"] == "application/pdf"
        assert as_pdf.content.startswith(b"%PDF-")
        bulletin = client.get("/admin/reports/bulletin/2026-07")
        assert bulletin.status_code == 200
        assert "Click map" in bulletin.text
        blank_form = {"from": "", "to": "", "kinds": "course,briefing", "format": "html"}
        assert client.get("/admin/reports/training", params=blank_form).status_code == 200
        assert client.get("/admin/reports/training", params={"from": "July"}).status_code == 422
        assert client.get("/admin/reports/bulletin/2030-01").status_code == 404
        assert client.get("/admin/reports/training", params={"agency": "fire"}).status_code == 400
