"""The record of lifecycle steps done per bulletin: claiming a step is inserting its row.

The row is unique per (bulletin, action), so whoever inserts it first owns the step; everyone
else sees it done. ``INSERT ... ON CONFLICT DO NOTHING`` makes the claim one statement on both
dialects, with no read-then-write race.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from newsletter.db import dialect_insert
from newsletter.models import ScheduleAction


def claim(
    session: Session, bulletin_id: int, action: str, *, at: datetime, detail: str = ""
) -> bool:
    """Insert the (bulletin, action) row; True if this call inserted it (the caller owns it).

    The caller commits (or rolls back, which gives the claim up with the rest of its work).
    """
    stmt = (
        dialect_insert(session, ScheduleAction)
        .values(bulletin_id=bulletin_id, action=action, done_at=at, detail=detail[:500])
        .on_conflict_do_nothing(index_elements=["bulletin_id", "action"])
        # RETURNING, not rowcount: an ORM session reports no rowcount for this on PostgreSQL.
        .returning(col(ScheduleAction.id))
    )
    return session.execute(stmt).first() is not None


def release(session: Session, bulletin_id: int, action: str) -> None:
    """Give a claim back (its work failed and should be tried again by a later tick)."""
    session.execute(
        delete(ScheduleAction).where(
            col(ScheduleAction.bulletin_id) == bulletin_id, col(ScheduleAction.action) == action
        )
    )


def done_actions(session: Session, bulletin_id: int) -> dict[str, ScheduleAction]:
    """The steps recorded for one bulletin, by action."""
    rows = session.exec(
        select(ScheduleAction).where(col(ScheduleAction.bulletin_id) == bulletin_id)
    ).all()
    return {row.action: row for row in rows}
