"""The command line names an extra edition by its key (2026-07-correction) wherever it names a
bulletin, and keeps plain months where it means a calendar month (a report's range)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.cli import app
from newsletter.db import make_engine
from newsletter.models import Bulletin
from tests.conftest import REPO, TEST_SECRET

runner = CliRunner()

CORRECTION = """\
month: 2026-07-correction
title: "Correction: the Safer7 on Non-Accidental Injury"
subject: "Correction to July's bulletin: the Safer7 link"
preheader: The right link to the Safer7 briefing on Non-Accidental Injury
audience: [children]
send:
  date: 2026-07-16
  time: "10:00"
intro: July's bulletin linked the wrong Safer7 page. Here is the right one.
sections:
  - title: Safer7 Briefings
    items:
      - ref: briefing-nai
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    plan_dir = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", plan_dir)
    (plan_dir / "themes" / "2026-07-correction.yaml").write_text(CORRECTION, encoding="utf-8")
    for name, value in {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PLAN_DIR": str(plan_dir),
        "TEMPLATES_DIR": str(REPO / "templates"),
        "SUBSCRIBERS_DIR": str(REPO / "subscribers"),
        "APPROVERS": "lead@example.org",
    }.items():
        monkeypatch.setenv(f"NEWSLETTER_{name}", value)
    engine = make_engine(database_url)
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    engine.dispose()
    return database_url


def plain(output: str) -> str:
    """The output's words on one line, without the box an error is drawn in."""
    return " ".join(output.replace("│", " ").split())


def rows(database_url: str) -> dict[str, Bulletin]:
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        found = {b.month: b for b in session.exec(select(Bulletin)).all()}
    engine.dispose()
    return found


def test_an_extra_edition_is_built_previewed_and_paused_by_its_key(
    env: str, tmp_path: Path
) -> None:
    built = runner.invoke(app, ["bulletin", "build", "2026-07-correction"])
    assert built.exit_code == 0, built.output
    assert "Correction: the Safer7 on Non-Accidental Injury" in built.output
    out = tmp_path / "correction.html"

    preview = runner.invoke(
        app, ["bulletin", "preview", "2026-07-correction", "--agency", "health", "--out", str(out)]
    )
    paused = runner.invoke(app, ["schedule", "pause", "2026-07-correction"])

    assert preview.exit_code == 0, preview.output
    assert "Thematic learning bulletin, July 2026 (correction)" in out.read_text()
    assert paused.exit_code == 0, paused.output
    assert "2026-07-correction paused" in paused.output
    found = rows(env)
    assert list(found) == ["2026-07-correction"]  # July's own bulletin is not touched
    assert found["2026-07-correction"].schedule_paused


def test_plan_show_lists_the_extra_edition_after_its_month(env: str) -> None:
    result = runner.invoke(app, ["plan", "show"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    july = next(i for i, line in enumerate(lines) if "2026-07 " in line)
    extra = next(i for i, line in enumerate(lines) if "2026-07-correction" in line)
    assert july < extra


@pytest.mark.parametrize(
    "args",
    [
        ["bulletin", "build", "2026-07-Correction"],
        ["schedule", "pause", "2026-07-15"],
        ["report", "bulletin", "2026-7"],
    ],
)
def test_a_bulletin_that_is_not_a_key_is_refused_with_how_to_write_one(
    env: str, args: list[str]
) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert "YYYY-MM-name for an extra edition" in plain(result.output)


def test_a_reports_range_stays_calendar_months(env: str) -> None:
    result = runner.invoke(app, ["report", "training", "--from", "2026-07-correction"])

    assert result.exit_code == 2
    assert "is not a month; write it as YYYY-MM" in plain(result.output)


def test_plan_check_of_the_folder_names_the_extra_edition_in_its_summary(
    env: str, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["plan", "check", str(tmp_path / "campaigns")])

    assert result.exit_code == 0, result.output
    assert "plan OK: 18 months (2026-07 to 2027-12), 1 extra edition," in plain(result.output)


def test_an_extra_edition_is_approved_and_dry_run_sent_by_its_key(env: str) -> None:
    assert runner.invoke(app, ["bulletin", "build", "2026-07-correction"]).exit_code == 0

    approved = runner.invoke(
        app, ["bulletin", "approve", "2026-07-correction", "--by", "lead@example.org"]
    )
    dry_run = runner.invoke(app, ["bulletin", "send", "2026-07-correction", "--dry-run"])

    assert approved.exit_code == 0, approved.output
    assert "bulletin 2026-07-correction approved by lead@example.org" in plain(approved.output)
    assert "send slot 2026-07-16 09:00 UTC" in plain(approved.output)
    assert dry_run.exit_code == 0, dry_run.output
    assert "Dry run of 2026-07-correction" in plain(dry_run.output)
    assert rows(env)["2026-07-correction"].status == "approved"
