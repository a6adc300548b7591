"""The append-only activity log: who did what, to which object, when.

Every staff action, sign-in, lock-out, user and role change is written here with
:func:`record`, in the same transaction as the change it describes (the caller commits), from
the web app, the CLI or the scheduler alike. Rows are never updated or deleted (the database
refuses to). Actors are written as text: a person's email address, ``cli:<os user>``,
``scheduler`` or ``token:<name>``, so an entry outlives the account that made it.
"""

from __future__ import annotations

import getpass
from datetime import datetime

from sqlmodel import Session

from newsletter.models import ActivityEntry, User


def cli_actor() -> str:
    """How the command line appears in the log: ``cli:`` and the operating-system user."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no such user in a container's passwd
        name = "unknown"
    return f"cli:{name}"


SCHEDULER = "scheduler"


def record(
    session: Session,
    *,
    actor: User | str,
    action: str,
    object: str = "",
    detail: str = "",
    client: str | None = None,
    at: datetime | None = None,
) -> ActivityEntry:
    """Add one entry (flushed, not committed). ``action`` is dotted, e.g. ``user.sign_in``.

    ``object`` names what was acted on, as ``kind:key`` (``user:a@example.org``,
    ``bulletin:2026-07``); ``detail`` is a short human sentence.
    """
    if isinstance(actor, User):
        actor_text, actor_id = actor.email, actor.id
    else:
        actor_text, actor_id = actor, None
    entry = ActivityEntry(
        actor=actor_text[:320],
        actor_user_id=actor_id,
        action=action[:60],
        object=object[:320],
        detail=detail[:1000],
        client=client[:64] if client else None,
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    session.flush()
    return entry
