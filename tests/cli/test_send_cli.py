"""`newsletter bulletin send`: the command an operator runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.models import Bulletin, BulletinStatus
from tests.conftest import TEST_SECRET
from tests.factories import make_bulletin, make_subscriber, make_variant


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "var"
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.chdir(tmp_path)  # no developer .env
    return data


def approved(session: Session, month: str) -> None:
    bulletin = make_bulletin(session, month=month, status=BulletinStatus.approved)
    for agency in ("health", "police"):
        make_variant(session, bulletin, agency=agency, html="<p>__NL_NAME__</p>")
        for _ in range(3):
            make_subscriber(session, agency=agency)
    session.commit()


def test_send_shows_a_dry_run_then_sends_to_the_outbox_with_a_summary_by_agency(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-07")
    runner = CliRunner()

    dry = runner.invoke(app, ["bulletin", "send", "2026-07", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would send 6 messages" in dry.output
    assert not (cli_env / "outbox").exists()

    sent = runner.invoke(app, ["bulletin", "send", "2026-07", "--yes"])
    assert sent.exit_code == 0, sent.output
    assert "2026-07: sent" in sent.output
    assert "health" in sent.output
    assert "police" in sent.output
    assert len(list((cli_env / "outbox" / "2026-07").glob("*.eml"))) == 6

    again = runner.invoke(app, ["bulletin", "send", "2026-07", "--yes"])
    assert again.exit_code == 0, again.output
    assert len(list((cli_env / "outbox" / "2026-07").glob("*.eml"))) == 6


def test_send_asks_before_sending_and_stops_on_no(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-08")
    result = CliRunner().invoke(app, ["bulletin", "send", "2026-08"], input="n\n")
    assert result.exit_code == 1
    assert "Send 2026-08 to 6 recipients via outbox?" in result.output
    assert not (cli_env / "outbox").exists()


def test_test_copies_go_to_one_address_only(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-09")
    result = CliRunner().invoke(
        app, ["bulletin", "send", "2026-09", "--test-to", "editor@example.org"]
    )
    assert result.exit_code == 0, result.output
    files = list((cli_env / "outbox" / "2026-09").glob("*.eml"))
    assert len(files) == 2
    assert all("[TEST]" in f.read_text() for f in files)


def test_errors_are_plain_messages_with_exit_code_1(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["bulletin", "send", "2031-01", "--yes"])
    assert missing.exit_code == 1
    assert "there is no bulletin for 2031-01" in missing.output
    bad = runner.invoke(app, ["bulletin", "send", "2026-07", "--transport", "pigeon", "--yes"])
    assert bad.exit_code == 1
    assert "unknown transport 'pigeon'" in bad.output
    assert "Traceback" not in missing.output + bad.output


def test_a_bulletin_waiting_for_its_slot_is_sent_early_only_with_now(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    from datetime import timedelta

    from newsletter.models import utcnow

    approved(session, "2031-03")
    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2031-03")).one()
    bulletin.send_at = utcnow() + timedelta(days=30)
    session.commit()
    runner = CliRunner()

    early = runner.invoke(app, ["bulletin", "send", "2031-03", "--yes"])
    assert early.exit_code == 1
    assert "is due to go out at" in early.output
    assert "add --now" in early.output
    assert not (cli_env / "outbox").exists()

    now = runner.invoke(app, ["bulletin", "send", "2031-03", "--yes", "--now"])
    assert now.exit_code == 0, now.output
    assert len(list((cli_env / "outbox" / "2031-03").glob("*.eml"))) == 6
