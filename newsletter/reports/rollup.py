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
    Engine,
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

from newsletter.db import read_session, session_scope
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

    A bulk writer (newsletter.shortwrites): one bulletin at a time, its roll-up rows are
    aggregated in a read-only transaction (no write lock on SQLite) and then stored, and its
    raw events deleted, in one short write transaction, so clicks are recorded meanwhile.
    Groups never span bulletins (a delivery belongs to one), so rolling up bulletin by bulletin
    gives the same rows as all at once; an interrupted run leaves whole bulletins done and the
    rest to the next run. ``session`` is committed first and its engine used. Returns how many
    events were rolled up. Calling it again with the same cut-off does nothing.
    """
    if before.tzinfo is None:
        raise ValueError("before must be timezone-aware (UTC)")
    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with read_session(engine) as reading:
        # Every statement below works on the same events, even if old-dated events are
        # recorded meanwhile: those with id <= last.
        last = reading.execute(
            select(func.max(col(Event.id))).where(col(Event.occurred_at) < before)
        ).scalar()
        if last is None:
            return 0
        bulletins = sorted(
            reading.execute(
                select(col(Event.bulletin_id))
                .where(col(Event.occurred_at) < before, col(Event.id) <= last)
                .distinct()
            ).scalars(),
            key=lambda b: (b is None, b or 0),
        )
    now = utcnow()
    count = 0
    for bulletin_id in bulletins:
        only = (
            col(Event.bulletin_id).is_(None)
            if bulletin_id is None
            else col(Event.bulletin_id) == bulletin_id
        )
        with read_session(engine) as reading:
            rows = [
                dict(zip(_COLUMNS, row, strict=True))
                for level in RollupLevel
                for row in reading.execute(_rollup_select(level, before, last, now).where(only))
            ]
            reasons = [
                dict(zip(["bulletin_id", "rules_version", "reason", "events"], row, strict=True))
                for row in reading.execute(
                    select(
                        col(Event.bulletin_id),
                        col(Event.rules_version),
                        col(Event.machine_reason),
                        func.count(),
                    )
                    .where(
                        col(Event.occurred_at) < before,
                        col(Event.id) <= last,
                        col(Event.machine).is_(True),
                        only,
                    )
                    .group_by(
                        col(Event.bulletin_id), col(Event.rules_version), col(Event.machine_reason)
                    )
                )
            ]
        with session_scope(engine) as writing:
            if rows:
                writing.execute(insert(EventRollup), rows)
            if reasons:
                writing.execute(insert(MachineReasonRollup), reasons)
            # The numbers stay the same, but the rows they come from change: the deletion
            # bumps the report version of the bulletin, so the reports recompute to be sure.
            count += delete_events(
                writing, (col(Event.occurred_at) < before) & (col(Event.id) <= last) & only
            )
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
