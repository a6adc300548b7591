"""`newsletter schedule ...`: tried the way a new user would, with the repository's plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.models import Bulletin, BulletinStatus
from tests.conftest import REPO, TEST_SECRET
from tests.factories import make_bulletin

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {
        "DATA_DIR": str(tmp_path / "var"),
        "SECRET_KEY": TEST_SECRET,
        "PLAN_DIR": str(REPO / "campaigns"),
        "TEMPLATES_DIR": str(REPO / "templates"),
        "SUBSCRIBERS_DIR": str(REPO / "subscribers"),
    }.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    return tmp_path


@pytest.fixture
def db_env(env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    return database_url


def test_schedule_next_after_mid_september_shows_the_first_tuesday_of_october(env: Path) -> None:
    result = runner.invoke(app, ["schedule", "next", "--after", "2026-09-15T00:00"])
    assert result.exit_code == 0, result.output
    assert "2026-10-06 09:00 Europe/London (Tuesday, BST)" in result.output
    assert "2026-10-06 08:00 UTC" in result.output


def test_schedule_next_after_late_october_shows_november_in_gmt(env: Path) -> None:
    result = runner.invoke(app, ["schedule", "next", "--after", "2026-10-20T00:00"])
    assert result.exit_code == 0, result.output
    assert "2026-11-03 09:00 Europe/London (Tuesday, GMT)" in result.output
    assert "2026-11-03 09:00 UTC" in result.output


def test_schedule_next_refuses_a_time_it_cannot_read(env: Path) -> None:
    result = runner.invoke(app, ["schedule", "next", "--after", "next tuesday"])
    assert result.exit_code == 1
    assert "is not a date and time" in result.output


def test_pause_and_resume_hold_a_bulletin_back_and_let_it_go(db_env: str, engine: Engine) -> None:
    send_at = datetime.now(UTC) + timedelta(days=3)
    with Session(engine) as session:
        make_bulletin(session, month="2031-01", status=BulletinStatus.approved, send_at=send_at)
        session.commit()

    paused = runner.invoke(app, ["schedule", "pause", "2031-01"])
    assert paused.exit_code == 0, paused.output
    assert "2031-01 paused" in paused.output
    listed = runner.invoke(app, ["schedule", "list"])
    assert listed.exit_code == 0, listed.output
    assert "2031-01" in listed.output
    row = next(line for line in listed.output.splitlines() if "2031-01" in line)
    assert "│ yes " in row  # the paused column
    with Session(engine) as session:
        assert session.exec(select(Bulletin)).one().schedule_paused

    resumed = runner.invoke(app, ["schedule", "resume", "2031-01"])
    assert resumed.exit_code == 0, resumed.output
    assert "2031-01 resumed" in resumed.output
    with Session(engine) as session:
        assert not session.exec(select(Bulletin)).one().schedule_paused


def test_pausing_a_month_with_no_bulletin_fails_and_changes_nothing(
    db_env: str, engine: Engine
) -> None:
    result = runner.invoke(app, ["schedule", "pause", "2031-02"])
    assert result.exit_code == 1
    assert "there is no 2031-02 bulletin yet" in result.output


def test_pausing_a_sent_bulletin_is_refused(db_env: str, engine: Engine) -> None:
    with Session(engine) as session:
        make_bulletin(session, month="2031-03", status=BulletinStatus.sent)
        session.commit()
    result = runner.invoke(app, ["schedule", "pause", "2031-03"])
    assert result.exit_code == 1
    assert "is sent" in result.output


def test_schedule_list_says_when_no_scheduler_has_run_yet(db_env: str, engine: Engine) -> None:
    result = runner.invoke(app, ["schedule", "list"])
    assert result.exit_code == 0, result.output
    assert "no scheduler has run on this database yet" in result.output
