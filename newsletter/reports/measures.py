"""The measures every report shows, read from the report cache (``reports.cache``).

Each measure comes as four numbers (:class:`Counts`): events and unique people, each with
machine activity ("raw") and without it ("human"). A unique person is a distinct delivery;
an event without a delivery (agency tracking mode, archive views) counts as one person, since
nothing can tell two of them apart. The cache holds each bulletin's events aggregated in SQL
(raw and rolled-up events together, ``reports.aggregate``) and is recomputed for a bulletin
whose events changed, so Python only ever sees grouped results, never events.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, null, select
from sqlmodel import Session, col

from newsletter.models import (
    Link,
    ReportCache,
    ReportCacheReason,
    RollupLevel,
)
from newsletter.reports.cache import CACHED_TYPES, SENT, refresh_report_cache

__all__ = [
    "ZERO",
    "Counts",
    "MachineRule",
    "engagement",
    "item_counts",
    "machine_rules",
    "sent_counts",
]


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


def engagement(
    session: Session,
    *,
    level: RollupLevel,
    bulletin_ids: Collection[int],
    types: Collection[str],
    item_keys: Collection[str] | None = None,
) -> dict[tuple[Any, ...], Counts]:
    """Counts per group of ``level`` for the given bulletins and event types.

    Keys: ``bulletin`` -> (bulletin_id, agency, type); ``link`` -> (bulletin_id, agency, type,
    link_id); ``item`` -> (bulletin_id, agency, type, item key), for items on several links of a
    bulletin only (see item_counts). Groups without events are absent. Read from the report
    cache, refreshed first for bulletins whose events changed (see reports.cache).
    """
    if not bulletin_ids or not types:
        return {}
    uncached = sorted(set(types) - set(CACHED_TYPES[level]))
    if uncached:
        # Not a silent zero: the cache would need to keep these types (reports.cache).
        raise ValueError(f"{level.value} counts of {', '.join(uncached)} are not cached")
    refresh_report_cache(session, bulletin_ids)
    extra: Any = {
        RollupLevel.bulletin: null(),
        RollupLevel.link: col(ReportCache.link_id),
        RollupLevel.item: col(ReportCache.item_key),
    }[level]
    query = select(
        col(ReportCache.bulletin_id),
        col(ReportCache.agency),
        col(ReportCache.type),
        extra,
        col(ReportCache.events_all),
        col(ReportCache.events_human),
        col(ReportCache.deliveries_all) + col(ReportCache.anonymous_all),
        col(ReportCache.deliveries_human) + col(ReportCache.anonymous_human),
    ).where(
        col(ReportCache.bulletin_id).in_(sorted(bulletin_ids)),
        col(ReportCache.level) == level.value,
        col(ReportCache.type).in_(sorted(types)),
    )
    if item_keys is not None:
        query = query.where(col(ReportCache.item_key).in_(sorted(item_keys)))
    out: dict[tuple[Any, ...], Counts] = {}
    for bulletin_id, agency, kind, key, ev_all, ev_human, u_all, u_human in session.execute(query):
        group: tuple[Any, ...] = (bulletin_id, agency, kind)
        if level is not RollupLevel.bulletin:
            group = (*group, key)
        out[group] = Counts(int(ev_all), int(ev_human), int(u_all), int(u_human))
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

    An item on one link of a bulletin (the usual case) has that link's counts (``per_link``,
    read when not given). Items on several links of one bulletin have their own cached rows:
    one person clicking both links is one person.
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
            item_keys={k for _b, k in multi},
        )
        out.update({k: c for k, c in shared.items() if (k[0], k[3]) in multi})
    return out


def sent_counts(session: Session, *, bulletin_ids: Collection[int]) -> dict[tuple[int, str], int]:
    """Deliveries the transport accepted, per (bulletin, agency snapshot). Erased subscribers'
    deliveries keep their agency and still count."""
    if not bulletin_ids:
        return {}
    refresh_report_cache(session, bulletin_ids)
    query = select(
        col(ReportCache.bulletin_id), col(ReportCache.agency), col(ReportCache.events_all)
    ).where(
        col(ReportCache.bulletin_id).in_(sorted(bulletin_ids)),
        col(ReportCache.level) == RollupLevel.bulletin.value,
        col(ReportCache.type) == SENT,
    )
    return {(b, a): int(n) for b, a, n in session.execute(query)}


def machine_rules(session: Session, *, bulletin_ids: Collection[int]) -> list[MachineRule]:
    """The rules versions and reasons behind the machine events of these bulletins."""
    if not bulletin_ids:
        return []
    refresh_report_cache(session, bulletin_ids)
    version, reason = col(ReportCacheReason.rules_version), col(ReportCacheReason.reason)
    query = (
        select(version, reason, func.sum(col(ReportCacheReason.events)))
        .where(col(ReportCacheReason.bulletin_id).in_(sorted(bulletin_ids)))
        .group_by(version, reason)
        .order_by(version, reason)
    )
    return [
        MachineRule(v or "unversioned", r or "unstated", int(n))
        for v, r, n in session.execute(query)
    ]
