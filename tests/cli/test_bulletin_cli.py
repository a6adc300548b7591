"""`newsletter bulletin build | preview | approve`, driven through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.cli import app
from newsletter.db import make_engine
from newsletter.models import Bulletin, BulletinStatus, Variant
from newsletter.tokens import agency_token, parse_token
from tests.conftest import REPO, TEST_SECRET

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    for name, value in {
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": TEST_SECRET,
        "PLAN_DIR": str(REPO / "campaigns"),
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


def bulletin_row(database_url: str) -> Bulletin:
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        row = session.exec(select(Bulletin).where(Bulletin.month == "2026-07")).one()
    engine.dispose()
    return row


def test_build_prints_the_variants_and_checks_and_says_it_can_be_approved(env: str) -> None:
    result = runner.invoke(app, ["bulletin", "build", "2026-07"])

    assert result.exit_code == 0, result.output
    assert "Non-Accidental Injuries" in result.output
    assert "childrens-social-care" in result.output
    assert "size KB" in result.output
    assert "contrast" in result.output
    assert "Every check passed" in result.output
    assert bulletin_row(env).status == BulletinStatus.draft


def test_preview_writes_what_an_agency_receives_with_sample_values(
    env: str, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["bulletin", "build", "2026-07"]).exit_code == 0
    out = tmp_path / "f.html"

    result = runner.invoke(
        app, ["bulletin", "preview", "2026-07", "--agency", "health", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    html = out.read_text()
    bulletin = bulletin_row(env)
    assert bulletin.id is not None
    token = agency_token(TEST_SECRET.encode(), bulletin.id, "health")
    assert f"/c/{token}/" in html
    assert "Hello Sample Reader," in html
    assert "/u/preview" in html
    assert "__NL_" not in html
    assert 'style="' in html
    assert "ICON" in html
    assert len(html.encode()) < 100 * 1024
    assert parse_token(TEST_SECRET.encode(), token) is not None


def test_preview_text_goes_to_stdout(env: str) -> None:
    assert runner.invoke(app, ["bulletin", "build", "2026-07"]).exit_code == 0

    result = runner.invoke(app, ["bulletin", "preview", "2026-07", "--agency", "police", "--text"])

    assert result.exit_code == 0, result.output
    assert "NON-ACCIDENTAL INJURIES" in result.output
    assert "Hello Sample Reader," in result.output
    assert "<html" not in result.output


def test_preview_of_an_unknown_agency_or_month_is_a_clear_error(env: str) -> None:
    missing = runner.invoke(app, ["bulletin", "preview", "2026-07"])
    assert missing.exit_code == 1
    assert "build it first" in missing.output
    assert runner.invoke(app, ["bulletin", "build", "2026-07"]).exit_code == 0

    unknown = runner.invoke(app, ["bulletin", "preview", "2026-07", "--agency", "fire"])
    assert unknown.exit_code == 1
    assert "no variant for agency 'fire'" in unknown.output
    assert "Traceback" not in unknown.output


def test_approve_approves_once_then_refuses_with_the_reason(env: str) -> None:
    assert runner.invoke(app, ["bulletin", "build", "2026-07"]).exit_code == 0

    first = runner.invoke(app, ["bulletin", "approve", "2026-07", "--by", "lead@example.org"])
    assert first.exit_code == 0, first.output
    assert "approved by lead@example.org" in first.output
    assert bulletin_row(env).approved_by == "lead@example.org"

    again = runner.invoke(app, ["bulletin", "approve", "2026-07", "--by", "lead@example.org"])
    assert again.exit_code == 1
    assert "only a draft (or a missed one) can be approved" in again.output


def test_approve_must_name_an_approver(env: str) -> None:
    assert runner.invoke(app, ["bulletin", "build", "2026-07"]).exit_code == 0

    nobody = runner.invoke(app, ["bulletin", "approve", "2026-07"])
    stranger = runner.invoke(app, ["bulletin", "approve", "2026-07", "--by", "x@example.org"])

    assert nobody.exit_code == 2
    assert "--by" in nobody.output
    assert stranger.exit_code == 1
    assert "x@example.org is not one of the approvers" in stranger.output
    assert bulletin_row(env).status == "draft"


def test_build_refuses_a_month_the_plan_does_not_have(env: str) -> None:
    result = runner.invoke(app, ["bulletin", "build", "2031-01"])

    assert result.exit_code == 1
    assert "no theme for 2031-01" in result.output
    engine = make_engine(env)
    with Session(engine) as session:
        assert session.exec(select(Variant)).all() == []
    engine.dispose()


def test_a_month_that_is_not_a_month_is_refused(env: str) -> None:
    result = runner.invoke(app, ["bulletin", "build", "July"])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output


def test_build_with_an_invalid_plan_names_each_error_and_builds_nothing(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    broken = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", broken)
    theme = broken / "themes" / "2026-07.yaml"
    theme.write_text(theme.read_text().replace("ref: course-icon", "ref: course-nope", 1))
    monkeypatch.setenv("NEWSLETTER_PLAN_DIR", str(broken))

    result = runner.invoke(app, ["bulletin", "build", "2026-07"])

    assert result.exit_code == 1
    assert "2026-07.yaml:" in result.output
    assert "course-nope" in result.output
    assert "fix them first" in result.output
    engine = make_engine(env)
    with Session(engine) as session:
        assert session.exec(select(Bulletin)).all() == []
    engine.dispose()
