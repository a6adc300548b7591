"""The SQL behind every report: aggregates over raw events plus rolled-up events.

Each measure comes as four numbers (:class:`Counts`): events and unique people, each with
machine activity ("raw") and without it ("human"). A unique person is a distinct delivery;
an event without a delivery (agency tracking mode, archive views) counts as one person, since
nothing can tell two of them apart. Raw and rolled-up rows are combined with UNION ALL and
summed in SQL: the roll-up stores its distinct counts so that the sum stays exact (see
``reports.rollup``). Python only ever sees grouped results, never events.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    false,
    func,
    null,
    select,
    true,
    union_all,
)
from sqlmodel import Session, col

from newsletter.models import (
    Delivery,
    DeliveryStatus,
    Event,
    EventRollup,
    Link,
    MachineReasonRollup,
    RollupLevel,
)


@dataclass(frozen=True)
class Counts:
    """One measure: events and unique people, raw (machine included) and human-estimated."""

    events_all: int = 0
    events_human: int = 0
    unique_all: int = 0
    unique_human: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.events_all + other.events_all,
            self.events_human + other.events_human,
            self.unique_all + other.unique_all,
            self.unique_human + other.unique_human,
        )


ZERO = Counts()


@dataclass(frozen=True)
class MachineRule:
    """How a share of machine events was identified."""

    rules_version: str
    reason: str
    events: int


def item_key_expression() -> ColumnElement[str]:
    """What identifies an item across links: its catalogue id, else its target URL."""
    return func.coalesce(col(Link.catalogue_id), col(Link.url))


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


def _rollup_measures() -> list[Any]:
    return [
        col(EventRollup.events_all).label("events_all"),
        col(EventRollup.events_human).label("events_human"),
        col(EventRollup.deliveries_all).label("deliveries_all"),
        col(EventRollup.deliveries_human).label("deliveries_human"),
        col(EventRollup.anonymous_all).label("anonymous_all"),
        col(EventRollup.anonymous_human).label("anonymous_human"),
    ]


def engagement(
    session: Session,
    *,
    level: RollupLevel,
    bulletin_ids: Collection[int],
    types: Collection[str],
    link_ids: Collection[int] | None = None,
    item_keys: Collection[str] | None = None,
) -> dict[tuple[Any, ...], Counts]:
    """Counts per group of ``level`` for the given bulletins and event types.

    Keys: ``bulletin`` -> (bulletin_id, agency, type); ``link`` -> (bulletin_id, agency, type,
    link_id); ``item`` -> (bulletin_id, agency, type, item key). Groups without events are absent.
    ``link_ids`` / ``item_keys`` narrow the raw / rolled-up rows (item level; see item_counts).
    """
    if not bulletin_ids or not types:
        return {}
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
    if level is RollupLevel.link:
        raw_keys.append(col(Event.link_id).label("k_extra"))
        roll_keys.append(col(EventRollup.link_id).label("k_extra"))
    elif level is RollupLevel.item:
        raw_keys.append(item_key_expression().label("k_extra"))
        roll_keys.append(col(EventRollup.item_key).label("k_extra"))
    else:
        raw_keys.append(null().label("k_extra"))
        roll_keys.append(null().label("k_extra"))

    raw: Any = select(*raw_keys, *_raw_measures()).where(
        col(Event.bulletin_id).in_(ids), col(Event.type).in_(kinds)
    )
    if level is RollupLevel.item:
        raw = raw.join(Link, col(Link.id) == col(Event.link_id))
        if link_ids is not None:
            raw = raw.where(col(Event.link_id).in_(sorted(link_ids)))
    elif level is RollupLevel.link:
        raw = raw.where(col(Event.link_id).is_not(None))
    raw = raw.group_by(*(k.element for k in raw_keys[:3]), *_extra_group(level))
    rolled: Any = select(*roll_keys, *_rollup_measures()).where(
        col(EventRollup.level) == level.value,
        col(EventRollup.bulletin_id).in_(ids),
        col(EventRollup.type).in_(kinds),
    )
    if item_keys is not None:
        rolled = rolled.where(col(EventRollup.item_key).in_(sorted(item_keys)))
    both = union_all(raw, rolled).subquery()
    query = select(
        both.c.k_bulletin,
        both.c.k_agency,
        both.c.k_type,
        both.c.k_extra,
        func.sum(both.c.events_all),
        func.sum(both.c.events_human),
        func.sum(both.c.deliveries_all) + func.sum(both.c.anonymous_all),
        func.sum(both.c.deliveries_human) + func.sum(both.c.anonymous_human),
    ).group_by(both.c.k_bulletin, both.c.k_agency, both.c.k_type, both.c.k_extra)
    out: dict[tuple[Any, ...], Counts] = {}
    for bulletin_id, agency, kind, extra, ev_all, ev_human, u_all, u_human in session.execute(
        query
    ):
        key: tuple[Any, ...] = (bulletin_id, agency, kind)
        if level is not RollupLevel.bulletin:
            key = (*key, extra)
        out[key] = Counts(int(ev_all), int(ev_human), int(u_all), int(u_human))
    return out


def item_counts(
    session: Session,
    *,
    bulletin_ids: Collection[int],
    types: Collection[str],
    links: Sequence[Link],
    per_link: dict[tuple[Any, ...], Counts] | None = None,
) -> dict[tuple[Any, ...], Counts]:
    """Counts per (bulletin_id, agency, type, item key) for the items of ``links``.

    An item on one link of a bulletin (the usual case) has that link's counts, which come from
    the index-ordered link-level scan (``per_link``, computed when not given). Only items on
    several links of one bulletin need their own query: one person clicking both is one person.
    """
    if per_link is None:
        per_link = engagement(
            session, level=RollupLevel.link, bulletin_ids=bulletin_ids, types=types
        )
    key_of: dict[int, str] = {}
    groups: dict[tuple[int, str], list[int]] = {}
    for link in links:
        if link.id is None:
            continue
        key = link.catalogue_id or link.url
        key_of[link.id] = key
        groups.setdefault((link.bulletin_id, key), []).append(link.id)
    multi = {k: ids for k, ids in groups.items() if len(ids) > 1}
    out: dict[tuple[Any, ...], Counts] = {}
    for (bulletin_id, agency, kind, link_id), counts in per_link.items():
        item = key_of.get(link_id)
        if item is not None and (bulletin_id, item) not in multi:
            out[(bulletin_id, agency, kind, item)] = counts
    if multi:
        shared = engagement(
            session,
            level=RollupLevel.item,
            bulletin_ids={b for b, _k in multi},
            types=types,
            link_ids=[i for ids in multi.values() for i in ids],
            item_keys={k for _b, k in multi},
        )
        out.update({k: c for k, c in shared.items() if (k[0], k[3]) in multi})
    return out


def _extra_group(level: RollupLevel) -> Sequence[Any]:
    if level is RollupLevel.link:
        return [col(Event.link_id)]
    if level is RollupLevel.item:
        return [item_key_expression()]
    return []


def sent_counts(session: Session, *, bulletin_ids: Collection[int]) -> dict[tuple[int, str], int]:
    """Deliveries the transport accepted, per (bulletin, agency snapshot). Erased subscribers'
    deliveries keep their agency and still count."""
    if not bulletin_ids:
        return {}
    query = (
        select(col(Delivery.bulletin_id), col(Delivery.agency), func.count())
        .where(
            col(Delivery.bulletin_id).in_(sorted(bulletin_ids)),
            col(Delivery.status) == DeliveryStatus.sent.value,
        )
        .group_by(col(Delivery.bulletin_id), col(Delivery.agency))
    )
    return {(b, a): int(n) for b, a, n in session.execute(query)}


def machine_rules(session: Session, *, bulletin_ids: Collection[int]) -> list[MachineRule]:
    """The rules versions and reasons behind the machine events of these bulletins."""
    if not bulletin_ids:
        return []
    ids = sorted(bulletin_ids)
    raw: Any = (
        select(
            col(Event.rules_version).label("version"),
            col(Event.machine_reason).label("reason"),
            func.count().label("events"),
        )
        # "machine = true", written as the partial index ix_event_machine_reason says it.
        .where(col(Event.bulletin_id).in_(ids), col(Event.machine) == true())
        .group_by(col(Event.rules_version), col(Event.machine_reason))
    )
    rolled: Any = select(
        col(MachineReasonRollup.rules_version).label("version"),
        col(MachineReasonRollup.reason).label("reason"),
        col(MachineReasonRollup.events).label("events"),
    ).where(col(MachineReasonRollup.bulletin_id).in_(ids))
    both = union_all(raw, rolled).subquery()
    query = (
        select(both.c.version, both.c.reason, func.sum(both.c.events))
        .group_by(both.c.version, both.c.reason)
        .order_by(both.c.version, both.c.reason)
    )
    return [
        MachineRule(version or "unversioned", reason or "unstated", int(n))
        for version, reason, n in session.execute(query)
    ]
