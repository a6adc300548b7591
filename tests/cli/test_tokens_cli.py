"""`newsletter tokens add|list|revoke`: API tokens from the command line."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.apitokens import authenticate
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.models import ActivityEntry, utcnow
from tests.conftest import REPO, TEST_SECRET


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBERS_DIR", str(REPO / "subscribers"))
    return CliRunner()


def invoke(cli: CliRunner, *args: str) -> tuple[int, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.output


def test_a_token_is_shown_once_listed_by_name_and_revoked_at_once(
    cli: CliRunner, engine: Engine
) -> None:
    code, out = invoke(
        cli, "tokens", "add", "HR feed", "--scope", "subscribers:write,subscribers:read"
    )
    assert code == 0
    secret = re.search(r"nl_[A-Za-z0-9_-]{43}", out)
    assert secret is not None
    with Session(engine) as session:
        assert authenticate(session, secret.group(0), now=utcnow()) is not None
        session.commit()
    code, out = invoke(cli, "tokens", "list")
    assert code == 0
    assert "HR feed" in out
    assert secret.group(0) not in out
    assert "subscribers:read, subscribers:write" in " ".join(out.split())
    code, out = invoke(cli, "tokens", "revoke", "HR feed")
    assert code == 0
    with Session(engine) as session:
        assert authenticate(session, secret.group(0), now=utcnow()) is None
        actions = session.exec(select(ActivityEntry.action).order_by(col(ActivityEntry.id))).all()
    assert actions == ["token.create", "token.revoke"]
    code, out = invoke(cli, "tokens", "revoke", "HR feed")
    assert code == 1
    assert "already revoked" in out


def test_an_unknown_scope_is_refused_naming_the_known_ones(cli: CliRunner) -> None:
    code, out = invoke(cli, "tokens", "add", "x", "--scope", "everything")
    assert code == 1
    assert "unknown scope(s) everything" in " ".join(out.split())
