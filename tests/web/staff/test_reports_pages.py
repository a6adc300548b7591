"""The reports in the staff app: for everyone signed in, whatever their roles."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from tests.factories import make_user
from tests.reports.fixture import build_july
from tests.web.staff.support import sign_in, sign_in_fully, staff_client


def test_report_pages_send_a_stranger_to_the_sign_in_form_and_back(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    build_july(session)
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        for path in ("/admin/", "/admin/reports/training", "/admin/reports/bulletin/2026-07"):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/admin/sign-in?next=%2Fadmin%2F")
        back = sign_in(client, user.email, next="/admin/reports/training")
        assert back.headers["location"] == "/admin/reports/training"


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
        assert training.text.count("<svg") == 3
        assert "default-src 'none'" in training.headers["content-security-policy"]
        as_csv = client.get("/admin/reports/training", params={"format": "csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert "2026-07,neglect,Child Neglect,course,police,<5" in as_csv.text
        bulletin = client.get("/admin/reports/bulletin/2026-07")
        assert bulletin.status_code == 200
        assert "Click map" in bulletin.text
        blank_form = {"from": "", "to": "", "kinds": "course,briefing", "format": "html"}
        assert client.get("/admin/reports/training", params=blank_form).status_code == 200
        assert client.get("/admin/reports/training", params={"from": "July"}).status_code == 422
        assert client.get("/admin/reports/bulletin/2030-01").status_code == 404
        assert client.get("/admin/reports/training", params={"agency": "fire"}).status_code == 400
