"""Retention: roll raw events up into counts, then delete them.

Raw events tie engagement to a delivery and so to a person; past the retention period only
counts are kept. The reports read rolled-up rows together with raw events and must give the
same numbers before and after a roll-up, unique counts included. Unique counts cannot be
added across groups, so each grouping a report uses is rolled up on its own (see
:class:`~newsletter.models.RollupLevel`), and a rolled-up row counts a delivery only when no
newer raw event of that delivery remains in its group: the raw side counts that delivery, and
it is counted once. Roll-ups therefore give exact totals as long as events arrive in time order;
an event recorded later with an older time than a roll-up's cut-off could count its person twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from newsletter.eventlog import delete_events
from newsletter.models import Event, EventRollup, Link, MachineReasonRollup, RollupLevel, utcnow
from newsletter.reports.aggregate import MEASURES, item_key_expression

log = logging.getLogger(__name__)

_COLUMNS = [
    "level",
    "bulletin_id",
    "agency",
    "type",
    "link_id",
    "item_key",
    *MEASURES,
    "rolled_up_at",
]


def roll_up_events(session: Session, *, before: datetime) -> int:
    """Roll every event that occurred before ``before`` into ``event_rollup`` and delete it.

    Runs in the caller's transaction (commit to keep it). Returns how many events were
    rolled up. Calling it again with the same cut-off does nothing.
    """
    if before.tzinfo is None:
        raise ValueError("before must be timezone-aware (UTC)")
    # Every statement below works on the same events, even if old-dated events are recorded
    # meanwhile (each PostgreSQL statement sees its own snapshot): those with id <= last.
    last = session.execute(
        select(func.max(col(Event.id))).where(col(Event.occurred_at) < before)
    ).scalar()
    if last is None:
        return 0
    now = utcnow()
    for level in RollupLevel:
        session.execute(
            insert(EventRollup).from_select(_COLUMNS, _rollup_select(level, before, last, now))
        )
    reasons = (
        select(
            col(Event.bulletin_id),
            col(Event.rules_version),
            col(Event.machine_reason),
            func.count(),
        )
        .where(col(Event.occurred_at) < before, col(Event.id) <= last, col(Event.machine).is_(True))
        .group_by(col(Event.bulletin_id), col(Event.rules_version), col(Event.machine_reason))
    )
    session.execute(
        insert(MachineReasonRollup).from_select(
            ["bulletin_id", "rules_version", "reason", "events"], reasons
        )
    )
    # The numbers stay the same, but the rows they come from change: the deletion bumps the
    # report version of every bulletin it touches, so the reports recompute to be sure.
    count = delete_events(session, (col(Event.occurred_at) < before) & (col(Event.id) <= last))
    log.info("rolled up %d events older than %s", count, before.isoformat())
    return count


def _rollup_select(level: RollupLevel, before: datetime, last: int, now: datetime) -> Any:
    newer = aliased(Event)
    human = col(Event.machine).is_(False)
    anonymous = col(Event.delivery_id).is_(None)
    # The same delivery, in the same group, still has a raw event after the cut-off.
    same_group: list[ColumnElement[bool]] = [
        or_(col(newer.occurred_at) >= before, col(newer.id) > last),
        col(newer.delivery_id) == col(Event.delivery_id),
        col(newer.type) == col(Event.type),
    ]
    link_id: Any = null()
    item_key: Any = null()
    group: list[Any] = [col(Event.bulletin_id), col(Event.agency), col(Event.type)]
    if level is RollupLevel.link:
        same_group.append(col(newer.link_id) == col(Event.link_id))
        link_id = col(Event.link_id)
        group.append(link_id)
    elif level is RollupLevel.item:
        newer_link = aliased(Link)
        same_group.append(
            exists().where(
                col(newer_link.id) == col(newer.link_id),
                func.coalesce(col(newer_link.catalogue_id), col(newer_link.url))
                == item_key_expression(),
            )
        )
        item_key = item_key_expression()
        group.append(item_key)
    remains = exists().where(*same_group)
    remains_human = exists().where(*same_group, col(newer.machine).is_(False))
    only_old: ColumnElement[bool] = ~remains
    query = select(
        literal(level.value),
        col(Event.bulletin_id),
        col(Event.agency),
        col(Event.type),
        link_id,
        item_key,
        func.count(),
        func.sum(case((human, 1), else_=0)),
        func.count(distinct(case((only_old, col(Event.delivery_id))))),
        func.count(distinct(case((and_(human, ~remains_human), col(Event.delivery_id))))),
        func.sum(case((anonymous, 1), else_=0)),
        func.sum(case((and_(anonymous, human), 1), else_=0)),
        literal(now, type_=EventRollup.__table__.c.rolled_up_at.type),  # type: ignore[attr-defined]
    ).where(col(Event.occurred_at) < before, col(Event.id) <= last)
    if level is RollupLevel.link:
        query = query.where(col(Event.link_id).is_not(None))
    elif level is RollupLevel.item:
        query = query.join(Link, col(Link.id) == col(Event.link_id))
    return query.group_by(*group)


__all__ = ["roll_up_events"]
