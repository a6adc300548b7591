"""Bulletin status changes: the single place that writes ``Bulletin.status``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from newsletter.models import TRANSITIONS, Bulletin, BulletinStatus


class TransitionError(Exception):
    """The bulletin is not in a status from which the requested one may follow."""


def transition(
    session: Session, bulletin: Bulletin, to: BulletinStatus, *, now: datetime
) -> Bulletin:
    """Move ``bulletin`` to ``to`` if the current *stored* status allows it.

    The UPDATE is guarded by the status read, so two processes racing to start the same send
    cannot both win: the loser raises :class:`TransitionError`. ``now`` (from the caller's
    clock) is the bulletin's new ``updated_at``.
    """
    current = BulletinStatus(bulletin.status)
    if to not in TRANSITIONS[current]:
        raise TransitionError(f"bulletin {bulletin.month} is {current}; it cannot become {to}")
    result = session.execute(
        update(Bulletin)
        .where(col(Bulletin.id) == bulletin.id, col(Bulletin.status) == current)
        .values(status=to, updated_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(bulletin)
        raise TransitionError(
            f"bulletin {bulletin.month} changed to {bulletin.status} meanwhile; not moved to {to}"
        )
    session.refresh(bulletin)
    return bulletin
