"""The activity log: written beside the change, append-only in the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from newsletter.activity import SCHEDULER, cli_actor, record
from newsletter.models import ActivityEntry
from tests.factories import make_user


def test_an_entry_names_the_actor_the_action_and_the_object(session: Session) -> None:
    user = make_user(session, email="lead@example.org")
    record(session, actor=user, action="bulletin.approve", object="bulletin:2026-07", detail="ok")
    record(session, actor=cli_actor(), action="user.add", object="user:x@example.org")
    record(session, actor=SCHEDULER, action="bulletin.build", object="bulletin:2026-08")
    session.commit()
    rows = session.exec(select(ActivityEntry).order_by(ActivityEntry.id)).all()  # type: ignore[arg-type]
    assert [(r.actor, r.actor_user_id, r.action, r.object) for r in rows] == [
        ("lead@example.org", user.id, "bulletin.approve", "bulletin:2026-07"),
        (cli_actor(), None, "user.add", "user:x@example.org"),
        ("scheduler", None, "bulletin.build", "bulletin:2026-08"),
    ]
    assert cli_actor().startswith("cli:")


def test_the_database_refuses_to_change_or_delete_an_entry(
    engine: Engine, session: Session
) -> None:
    record(session, actor="scheduler", action="bulletin.build", object="bulletin:2026-08")
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(ActivityEntry).values(actor="someone else"))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(delete(ActivityEntry))
    session.rollback()
    assert session.exec(select(ActivityEntry.actor)).all() == ["scheduler"]
