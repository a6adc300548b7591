"""`report import-bookings` and the report commands, run through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from newsletter.models import CourseBooking
from tests.conftest import TEST_SECRET
from tests.reports.fixture import build_july

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    return settings


def _bookings(session: Session) -> list[tuple[str, str, str, int, int]]:
    session.expire_all()
    rows = session.exec(select(CourseBooking).order_by(col(CourseBooking.course_id))).all()
    out = [(b.course_id, b.agency, b.month, b.bookings, b.attended) for b in rows]
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    return out


def test_a_bookings_file_with_bad_lines_names_each_line_and_imports_nothing(
    session: Session, cli_env: Settings, tmp_path: Path
) -> None:
    build_july(session)
    path = tmp_path / "bookings.csv"
    path.write_text(
        "course_id,agency,month,bookings,attended\n"
        "icon,health,2026-07,7,5\n"
        "icon,fire,2026-07,1,1\n"
        "neglect,police,2026-13,x,0\n"
        "neglect,police,2026-07,2,3\n"
    )
    result = runner.invoke(app, ["report", "import-bookings", str(path)])
    assert result.exit_code == 1
    assert "line 3: unknown agency 'fire'" in result.output
    assert "line 4: month '2026-13' is not YYYY-MM" in result.output
    assert "line 4: bookings 'x' is not a whole number" in result.output
    assert "line 5: attended is more than bookings" in result.output
    assert "Traceback" not in result.output
    assert _bookings(session) == []


def test_a_file_without_the_required_columns_is_refused(
    session: Session, cli_env: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bookings.csv"
    path.write_text("course,agency\nicon,health\n")
    result = runner.invoke(app, ["report", "import-bookings", str(path)])
    assert result.exit_code == 1
    assert "missing column(s) course_id, month, bookings, attended" in result.output


def test_bookings_are_upserted_and_shown_beside_clicks(
    session: Session, cli_env: Settings, tmp_path: Path
) -> None:
    build_july(session)
    path = tmp_path / "bookings.csv"
    path.write_text("course_id,agency,month,bookings,attended\nicon,health,2026-07,7,5\n")
    assert runner.invoke(app, ["report", "import-bookings", str(path)]).exit_code == 0
    path.write_text(
        "\ufeffCourse_ID,Agency,Month,Bookings,Attended,Venue\n"
        "icon,health,2026-07,9,6,Town Hall\n"
        "neglect,police,2026-07,2,2,Online\n"
    )
    result = runner.invoke(app, ["report", "import-bookings", str(path)])
    assert result.exit_code == 0, result.output
    assert "imported 2 booking rows" in result.output
    assert _bookings(session) == [
        ("icon", "health", "2026-07", 9, 6),
        ("neglect", "police", "2026-07", 2, 2),
    ]
    out = tmp_path / "training.json"
    result = runner.invoke(
        app, ["report", "training", "--format", "json", "--out", str(out), "--from", "2026-07"]
    )
    assert result.exit_code == 0, result.output
    rows = {(r["course_id"], r["agency"]): r for r in json.loads(out.read_text())["rows"]}
    assert (rows[("icon", "health")]["bookings"], rows[("icon", "health")]["attended"]) == (9, 6)
    assert rows[("icon", "health")]["clickers"] == "<5"
    assert rows[("neglect", "police")]["bookings"] == "<5"


def test_report_commands_refuse_bad_arguments_with_a_clear_error(
    session: Session, cli_env: Settings
) -> None:
    build_july(session)
    cases = {
        ("report", "training", "--from", "2026-7"): "is not a month",
        ("report", "training", "--format", "docx"): "choose one of table, csv, json, html, pdf",
        ("report", "training", "--agency", "fire"): "unknown agency 'fire'",
        ("report", "training", "--kinds", "course,video"): "unknown kind video",
        ("report", "training", "--kinds", ","): "choose at least one kind",
        ("report", "training", "--from", "2026-08", "--to", "2026-07"): "is after --to",
        ("report", "bulletin", "2026-08"): "no bulletin for 2026-08",
    }
    for argv, message in cases.items():
        result = runner.invoke(app, list(argv))
        assert result.exit_code != 0, argv
        assert message in " ".join(result.output.split()), (argv, result.output)
        assert "Traceback" not in result.output


def test_report_bulletin_prints_a_table_and_writes_html(
    session: Session, cli_env: Settings, tmp_path: Path
) -> None:
    build_july(session)
    result = runner.invoke(app, ["report", "bulletin", "2026-07"])
    assert result.exit_code == 0, result.output
    assert "Click map" in result.output
    assert "Machine activity was identified by" in " ".join(result.output.split())
    out = tmp_path / "july.html"
    result = runner.invoke(
        app, ["report", "bulletin", "2026-07", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().count("<svg") == 1
