"""`newsletter bulletin send`: the command an operator runs."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import get_settings
from newsletter.models import Bulletin, BulletinStatus, utcnow
from newsletter.plan import load_checked_plan
from newsletter.plan.digest import month_digest
from newsletter.sendability import start_refusal
from tests.conftest import REPO, TEST_SECRET
from tests.factories import make_bulletin, make_subscriber, make_variant


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "var"
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(data))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NEWSLETTER_PLAN_DIR", str(REPO / "campaigns"))
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBERS_DIR", str(REPO / "subscribers"))
    monkeypatch.chdir(tmp_path)  # no developer .env
    return data


ARCHIVE = "http://127.0.0.1:8000/archive"


def current_digest(month: str) -> str:
    """The fingerprint of ``month`` in the repository's plan: what a build there records."""
    return month_digest(load_checked_plan(get_settings()), month)


def approved(session: Session, month: str, **overrides: Any) -> Bulletin:
    """An approved bulletin of ``month`` built from the plan as it is (so up to date)."""
    values: dict[str, Any] = {
        "month": month,
        "status": BulletinStatus.approved,
        "month_hash": current_digest(month),
        "approved_at": utcnow(),
        "approved_by": "lead@example.org",
    }
    values.update(overrides)
    bulletin = make_bulletin(session, **values)
    for agency in ("health", "police"):
        make_variant(
            session,
            bulletin,
            agency=agency,
            html=f'<p>__NL_NAME__ <a href="{ARCHIVE}/{month}/{agency}">View in browser</a></p>',
            text=f"__NL_NAME__ View in browser: {ARCHIVE}/{month}/{agency}",
        )
        for _ in range(3):
            make_subscriber(session, agency=agency)
    session.commit()
    return bulletin


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


def test_send_without_a_terminal_refuses_to_guess_and_names_yes(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-08")
    result = CliRunner().invoke(app, ["bulletin", "send", "2026-08"], input="y\n")
    assert result.exit_code == 2
    assert "refusing to send without confirmation; pass --yes" in result.output
    assert "Aborted" not in result.output
    assert not (cli_env / "outbox").exists()


def test_send_on_a_terminal_asks_first_and_stops_on_no(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-08")
    output, code = run_on_terminal(["bulletin", "send", "2026-08"], answer="n")
    assert "Send 2026-08 to 6 recipients via outbox?" in output
    assert "not sent" in output
    assert code == 1
    assert not (cli_env / "outbox").exists()


def run_on_terminal(args: list[str], *, answer: str) -> tuple[str, int]:
    """Run the real command with a pseudo-terminal as its stdin and stdout, answer its question
    and return what it printed and its exit code."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    answered = False
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"?" in seen:
            os.write(controller, answer.encode() + b"\r")
            answered = True
    os.close(controller)
    return seen.decode(errors="replace").replace("\r\n", "\n"), process.wait(timeout=60)


def test_test_copies_name_their_agency_say_where_they_went_and_open_a_preview(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-09")
    result = CliRunner().invoke(
        app, ["bulletin", "send", "2026-09", "--test-to", "editor@example.org"]
    )
    assert result.exit_code == 0, result.output
    files = list((cli_env / "outbox" / "2026-09").glob("*.eml"))
    assert len(files) == 2
    subjects = sorted(message(f)["Subject"] for f in files)
    assert subjects[0].startswith("[TEST] Health: ")
    assert subjects[1].startswith("[TEST] Police: ")
    assert "sent Health proof to editor@example.org via outbox" in result.output
    assert "sent Police proof to editor@example.org via outbox" in result.output
    for f in files:
        body = message(f).get_body(("html",))
        assert body is not None
        html = body.get_content()
        assert f"{ARCHIVE}/2026-09/" not in html  # a draft is not in the public archive
        assert "http://127.0.0.1:8000/preview/p" in html


def test_agency_sends_one_proof_and_an_unknown_agency_lists_the_variants(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-09")
    runner = CliRunner()
    one = runner.invoke(
        app, ["bulletin", "send", "2026-09", "--test-to", "e@example.org", "--agency", "police"]
    )
    assert one.exit_code == 0, one.output
    [only] = list((cli_env / "outbox" / "2026-09").glob("*.eml"))
    assert message(only)["Subject"].startswith("[TEST] Police: ")

    unknown = runner.invoke(
        app, ["bulletin", "send", "2026-09", "--test-to", "e@example.org", "--agency", "navy"]
    )
    assert unknown.exit_code == 1
    assert "no variant for agency 'navy'" in unknown.output
    assert "health, police" in unknown.output


def message(path: Path) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(
            {"month_hash": "0" * 64},
            "it is out of date: the 2026-10 theme or a catalogue item it uses "
            "has changed in the plan since it was built",
            id="out-of-date",
        ),
        pytest.param(
            {"schedule_paused": True},
            "it is paused; resume it first (newsletter schedule resume 2026-10)",
            id="paused",
        ),
        pytest.param(
            {"status": BulletinStatus.draft, "approved_at": None},
            "it is not approved; approve it first (newsletter bulletin approve 2026-10)",
            id="not-approved",
        ),
    ],
)
def test_send_refuses_a_bulletin_that_may_not_start_with_the_sendability_words(
    cli_env: Path, engine: Engine, session: Session, overrides: dict[str, Any], reason: str
) -> None:
    bulletin = approved(session, "2026-10", **overrides)
    result = CliRunner().invoke(app, ["bulletin", "send", "2026-10", "--now", "--yes"])

    assert result.exit_code == 1
    assert f"bulletin 2026-10 may not be sent: {reason}" in " ".join(result.output.split())
    assert not (cli_env / "outbox").exists()
    session.refresh(bulletin)
    assert bulletin.status == overrides.get("status", BulletinStatus.approved)
    session.rollback()  # end the read: on SQLite every transaction holds the write lock
    expected = start_refusal(bulletin, load_checked_plan(get_settings()))
    assert expected is not None
    assert " ".join(expected.split()) in " ".join(result.output.split())


def test_a_send_under_way_resumes_even_when_the_plan_changed_since(
    cli_env: Path, engine: Engine, session: Session
) -> None:
    approved(session, "2026-11")
    first = CliRunner().invoke(app, ["bulletin", "send", "2026-11", "--now", "--yes"])
    assert first.exit_code == 0, first.output
    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2026-11")).one()
    bulletin.month_hash = "0" * 64  # the plan changed after the send started
    bulletin.status = BulletinStatus.failed
    session.commit()

    again = CliRunner().invoke(app, ["bulletin", "send", "2026-11", "--yes"])
    assert again.exit_code == 0, again.output
    assert "may not be sent" not in again.output


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

    approved(session, "2027-03")
    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2027-03")).one()
    bulletin.send_at = utcnow() + timedelta(days=30)
    session.commit()
    runner = CliRunner()

    early = runner.invoke(app, ["bulletin", "send", "2027-03", "--yes"])
    assert early.exit_code == 1
    assert "is due to go out at" in early.output
    assert "add --now" in early.output
    assert not (cli_env / "outbox").exists()

    now = runner.invoke(app, ["bulletin", "send", "2027-03", "--yes", "--now"])
    assert now.exit_code == 0, now.output
    assert len(list((cli_env / "outbox" / "2027-03").glob("*.eml"))) == 6
