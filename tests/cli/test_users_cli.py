"""`newsletter users ...`: add with roles, list, roles, set-password, remove, unlock, invite."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from newsletter.accounts import user_id
from newsletter.cli import app
from newsletter.config import Settings
from newsletter.models import ActivityEntry, Role, SessionStage, StaffSession, User, UserRole
from newsletter.passwords import verify_password
from tests.conftest import TEST_SECRET
from tests.factories import make_user

PASSWORD = "correct horse battery"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    return CliRunner()


def invoke(cli: CliRunner, *args: str, input: str | None = None) -> tuple[int, str]:
    result = cli.invoke(app, list(args), input=input)
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, " ".join(result.output.split())


def _roles(session: Session, email: str) -> set[str]:
    session.expire_all()
    rows = session.exec(
        select(UserRole.role)
        .join(User, col(User.id) == col(UserRole.user_id))
        .where(col(User.email) == email)
    ).all()
    session.rollback()
    return {str(r) for r in rows}


def test_users_add_hashes_the_password_with_argon2id_and_gives_each_role_asked_for(
    cli: CliRunner, session: Session
) -> None:
    code, out = invoke(
        cli,
        "users",
        "add",
        "Lead@Example.ORG",
        "--role",
        "editor",
        "--role",
        "approver",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert code == 0, out
    assert "added lead@example.org (approver, editor)" in out
    user = session.exec(select(User)).one()
    stored = user.password_hash
    session.rollback()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert verify_password(PASSWORD, stored)
    assert _roles(session, "lead@example.org") == {"editor", "approver"}
    again = invoke(cli, "users", "add", "lead@example.org", "--password", PASSWORD)
    assert again[0] == 1
    assert "already has an account" in again[1]
    assert invoke(cli, "users", "add", "x@example.org", "--password", "short")[0] == 1
    assert "not an email address" in invoke(cli, "users", "add", "nope", "--password", PASSWORD)[1]
    bad_role = invoke(
        cli, "users", "add", "y@example.org", "--role", "boss", "--password", PASSWORD
    )
    assert bad_role[0] == 1
    assert "'boss' is not a role; choose from editor, approver, admin" in bad_role[1]


def test_users_list_shows_roles_and_status(cli: CliRunner, session: Session) -> None:
    make_user(session, email="admin@example.org", roles=["admin"])
    make_user(session, email="new@example.org", roles=["editor"], password=None)
    session.commit()
    code, out = invoke(cli, "users", "list")
    assert code == 0, out
    assert "admin@example.org admin active" in out
    assert "new@example.org editor invited" in out


def test_users_roles_sets_exactly_the_roles_given_and_keeps_the_last_admin(
    cli: CliRunner, session: Session
) -> None:
    make_user(session, email="only@example.org", roles=["admin"])
    session.commit()
    code, out = invoke(cli, "users", "roles", "only@example.org", "--role", "editor")
    assert code == 1
    assert "the last admin" in out
    assert (
        invoke(cli, "users", "roles", "only@example.org", "-r", "admin", "-r", "approver")[0] == 0
    )
    assert _roles(session, "only@example.org") == {"admin", "approver"}
    actions = session.exec(select(ActivityEntry.action, ActivityEntry.actor)).all()
    assert ("role.grant", actions[-1][1]) in actions
    assert actions[-1][1].startswith("cli:")


def test_users_set_password_ends_every_session_and_remove_deletes_the_account(
    cli: CliRunner, session: Session
) -> None:
    make_user(session, email="admin@example.org", roles=["admin"])
    user = make_user(session, email="lead@example.org", roles=["editor"])
    session.add(
        StaffSession(token_hash="a" * 64, user_id=user_id(user), stage=SessionStage.signed_in)
    )
    session.commit()
    code, out = invoke(
        cli, "users", "set-password", "lead@example.org", "--password", "another long password"
    )
    assert code == 0, out
    assert session.exec(select(StaffSession)).all() == []
    session.rollback()
    unconfirmed = invoke(cli, "users", "remove", "lead@example.org")
    assert unconfirmed == (2, "error: refusing to remove without confirmation; pass --yes")
    code, out = invoke(cli, "users", "remove", "lead@example.org", "--yes")
    assert code == 0, out
    session.expire_all()
    assert session.exec(select(User.email)).all() == ["admin@example.org"]
    session.rollback()
    assert "no account" in invoke(cli, "users", "remove", "lead@example.org", "--yes")[1]
    last = invoke(cli, "users", "remove", "admin@example.org", "--yes")
    assert last[0] == 1
    assert "the last admin" in last[1]
    logged = session.exec(select(ActivityEntry.action)).all()
    assert {"user.set_password", "user.remove"} <= set(logged)


def test_users_add_invite_emails_a_single_use_link(
    cli: CliRunner, session: Session, settings: Settings
) -> None:
    code, out = invoke(cli, "users", "add", "new@example.org", "--role", "editor", "--invite")
    assert code == 0, out
    assert "invitation emailed to new@example.org" in out
    [message] = list(Path(settings.data_dir, "outbox", "notifications").glob("*.eml"))
    mail = message_from_bytes(message.read_bytes())
    assert mail["To"] == "new@example.org"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"{settings.public_base_url}/admin/invitation/" in body
    user = session.exec(select(User)).one()
    assert user.password_hash is None
    assert Role.editor in {r.role for r in session.exec(select(UserRole)).all()}


def test_users_unlock_and_reset_two_factor_are_logged(cli: CliRunner, session: Session) -> None:
    from datetime import UTC, datetime, timedelta

    make_user(
        session,
        email="lead@example.org",
        totp_secret="JBSWY3DPEHPK3PXP",
        locked_until=datetime.now(UTC) + timedelta(hours=1),
    )
    session.commit()
    assert invoke(cli, "users", "unlock", "lead@example.org")[0] == 0
    assert invoke(cli, "users", "reset-two-factor", "lead@example.org")[0] == 0
    session.expire_all()
    user = session.exec(select(User)).one()
    assert user.locked_until is None
    assert user.totp_secret is None
    assert {"user.unlock", "user.second_factor_reset"} <= set(
        session.exec(select(ActivityEntry.action)).all()
    )
