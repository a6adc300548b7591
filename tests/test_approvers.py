"""Approvers are the people with the approver role; NEWSLETTER_APPROVERS only seeds the role."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from newsletter.accounts import approvers, seed_approvers, set_roles
from newsletter.models import ActivityEntry, Role, User
from newsletter.schedule.notify import Notifier
from newsletter.transports.memory import MemoryTransport
from newsletter.web.app import seed_approver_role
from tests.conftest import make_settings
from tests.factories import make_user


def test_role_holders_are_the_approvers_and_the_setting_counts_only_until_someone_holds_it(
    session: Session,
) -> None:
    seed = ["Lead@Example.org"]
    assert approvers(session, seed) == ["lead@example.org"]
    make_user(session, email="chair@example.org", roles=["approver", "editor"])
    make_user(session, email="editor@example.org", roles=["editor"])
    assert approvers(session, seed) == ["chair@example.org"]


def test_seeding_gives_the_role_once_and_a_role_taken_away_stays_away(session: Session) -> None:
    existing = make_user(session, email="chair@example.org", roles=["editor"])
    seeded = seed_approvers(session, ["chair@example.org", "new@example.org"], actor="seed")
    assert seeded == ["chair@example.org", "new@example.org"]
    new = session.exec(select(User).where(User.email == "new@example.org")).one()
    assert new.password_hash is None  # they sign in once invited
    set_roles(session, existing, {Role.editor}, actor="admin@example.org")
    assert seed_approvers(session, ["chair@example.org"], actor="seed") == []
    assert approvers(session, ["chair@example.org"]) == ["new@example.org"]
    logged = session.exec(select(ActivityEntry.action)).all()
    assert logged.count("role.grant") == 1
    assert "user.add" in logged


def test_the_web_app_seeds_the_role_at_start_up(
    tmp_path: Path, engine: Engine, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, approvers=["lead@example.org"])
    seed_approver_role(engine, settings)
    with Session(engine) as session:
        assert approvers(session, []) == ["lead@example.org"]


def test_approval_requests_go_to_whoever_holds_the_role_when_the_message_leaves(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, approvers=["old@example.org"])
    transport = MemoryTransport()
    holders: list[str] = ["chair@example.org", "deputy@example.org"]
    notifier = Notifier(settings, transport_factory=lambda _: transport, recipients=lambda: holders)
    assert notifier.notify("Approve July", "Please approve") == 2
    assert sorted(m.to for m in transport.sent) == holders
