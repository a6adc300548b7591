"""The SQL that aggregates events: raw events plus rolled-up rows, per bulletin.

Each group comes as six numbers: events, distinct deliveries and anonymous events (no
delivery: agency tracking mode, archive views), each with machine activity ("all") and without
it ("human"). Raw and rolled-up rows are combined with UNION ALL and summed in SQL: the roll-up
stores its distinct counts so that the sum stays exact (see ``reports.rollup``). These selects
feed the report cache (``reports.cache``); the reports read the cache, never these directly.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    distinct,
    false,
    func,
    null,
    select,
    true,
    union_all,
)
from sqlmodel import col

from newsletter.models import Event, EventRollup, Link, MachineReasonRollup, RollupLevel

MEASURES = (
    "events_all",
    "events_human",
    "deliveries_all",
    "deliveries_human",
    "anonymous_all",
    "anonymous_human",
)


def item_key_expression() -> ColumnElement[str]:
    """What identifies an item across links: its catalogue id, else its target URL."""
    return func.coalesce(col(Link.catalogue_id), col(Link.url))


def _no_link() -> Any:
    # Typed, or PostgreSQL cannot tell what a NULL of a UNION is when inserting it.
    return cast(null(), Integer)


def _no_item() -> Any:
    return cast(null(), String)


def _human() -> ColumnElement[bool]:
    return col(Event.machine).is_(false())


def _raw_measures() -> list[Any]:
    anonymous = col(Event.delivery_id).is_(None)
    return [
        func.count().label("events_all"),
        func.sum(case((_human(), 1), else_=0)).label("events_human"),
        func.count(distinct(col(Event.delivery_id))).label("deliveries_all"),
        func.count(distinct(case((_human(), col(Event.delivery_id))))).label("deliveries_human"),
        func.sum(case((anonymous, 1), else_=0)).label("anonymous_all"),
        func.sum(case((and_(anonymous, _human()), 1), else_=0)).label("anonymous_human"),
    ]


def engagement_select(
    level: RollupLevel,
    *,
    bulletin_ids: Collection[int],
    types: Collection[str],
    link_ids: Collection[int] | None = None,
    item_keys: Collection[str] | None = None,
) -> Any:
    """SELECT bulletin_id, agency, type, link_id, item_key and the six measures, one row per
    group of ``level`` over the events of ``types`` of the given bulletins (raw + rolled up).

    ``link_ids`` / ``item_keys`` narrow the raw / rolled-up rows at item level: only items on
    several links of one bulletin need it (see reports.cache).
    """
    ids, kinds = sorted(bulletin_ids), sorted(types)
    raw_keys: list[Any] = [
        col(Event.bulletin_id).label("k_bulletin"),
        col(Event.agency).label("k_agency"),
        col(Event.type).label("k_type"),
    ]
    roll_keys: list[Any] = [
        col(EventRollup.bulletin_id).label("k_bulletin"),
        col(EventRollup.agency).label("k_agency"),
        col(EventRollup.type).label("k_type"),
    ]
    group: list[Any] = [col(Event.bulletin_id), col(Event.agency), col(Event.type)]
    if level is RollupLevel.link:
        raw_keys += [col(Event.link_id).label("k_link"), _no_item().label("k_item")]
        roll_keys += [col(EventRollup.link_id).label("k_link"), _no_item().label("k_item")]
        group.append(col(Event.link_id))
    elif level is RollupLevel.item:
        raw_keys += [_no_link().label("k_link"), item_key_expression().label("k_item")]
        roll_keys += [_no_link().label("k_link"), col(EventRollup.item_key).label("k_item")]
        group.append(item_key_expression())
    else:
        raw_keys += [_no_link().label("k_link"), _no_item().label("k_item")]
        roll_keys += [_no_link().label("k_link"), _no_item().label("k_item")]

    raw: Any = select(*raw_keys, *_raw_measures()).where(
        col(Event.bulletin_id).in_(ids), col(Event.type).in_(kinds)
    )
    if level is RollupLevel.item:
        raw = raw.join(Link, col(Link.id) == col(Event.link_id))
        if link_ids is not None:
            raw = raw.where(col(Event.link_id).in_(sorted(link_ids)))
    elif level is RollupLevel.link:
        raw = raw.where(col(Event.link_id).is_not(None))
    raw = raw.group_by(*group)
    rolled: Any = select(*roll_keys, *(col(getattr(EventRollup, m)).label(m) for m in MEASURES))
    rolled = rolled.where(
        col(EventRollup.level) == level.value,
        col(EventRollup.bulletin_id).in_(ids),
        col(EventRollup.type).in_(kinds),
    )
    if item_keys is not None:
        rolled = rolled.where(col(EventRollup.item_key).in_(sorted(item_keys)))
    both = union_all(raw, rolled).subquery()
    keys = [both.c.k_bulletin, both.c.k_agency, both.c.k_type, both.c.k_link, both.c.k_item]
    return select(
        both.c.k_bulletin,
        both.c.k_agency,
        both.c.k_type,
        both.c.k_link,
        both.c.k_item,
        *(func.sum(both.c[m]).label(m) for m in MEASURES),
    ).group_by(*keys)


def reasons_select(*, bulletin_ids: Collection[int]) -> Any:
    """SELECT bulletin_id, rules_version, reason, events: how the machine events of these
    bulletins were identified (raw + rolled up)."""
    ids = sorted(bulletin_ids)
    raw: Any = (
        select(
            col(Event.bulletin_id).label("bulletin"),
            col(Event.rules_version).label("version"),
            col(Event.machine_reason).label("reason"),
            func.count().label("events"),
        )
        # "machine = true", written as the partial index ix_event_machine_reason says it.
        .where(col(Event.bulletin_id).in_(ids), col(Event.machine) == true())
        .group_by(col(Event.bulletin_id), col(Event.rules_version), col(Event.machine_reason))
    )
    rolled: Any = select(
        col(MachineReasonRollup.bulletin_id).label("bulletin"),
        col(MachineReasonRollup.rules_version).label("version"),
        col(MachineReasonRollup.reason).label("reason"),
        col(MachineReasonRollup.events).label("events"),
    ).where(col(MachineReasonRollup.bulletin_id).in_(ids))
    both = union_all(raw, rolled).subquery()
    return select(both.c.bulletin, both.c.version, both.c.reason, func.sum(both.c.events)).group_by(
        both.c.bulletin, both.c.version, both.c.reason
    )
