"""The report cache: each bulletin's events aggregated once, recomputed only when they change.

Aggregating every raw event on every report made reports grow with all the events ever
recorded. Instead, every write of events goes through :mod:`newsletter.eventlog`, which bumps
the bulletin's row in ``bulletin_events_version`` in the same transaction (and so does the
dispatch ledger when it marks deliveries sent: sent counts per agency are cached too, as rows of
type ``sent``).
:func:`refresh_report_cache` compares those versions with the versions the cached rows were
computed from (``report_cache_state``) and recomputes only the bulletins whose version moved,
from raw and rolled-up events alike (``reports.aggregate``). Reports then read small cached
rows: the same numbers as aggregating the events, since the cached rows are that aggregate.

Exactness under concurrency: the version is read *before* the events are aggregated, and a
writer commits its events and its bump together, so an event the aggregate missed has a bump
the cache's version does not include: the next report recomputes. (An event the aggregate saw
early only causes one needless recompute.) Concurrent refreshes of one bulletin serialise on
its ``report_cache_state`` row (claimed first, with an upsert).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlmodel import Session, col

from newsletter.db import dialect_insert
from newsletter.models import (
    BulletinEventsVersion,
    Delivery,
    DeliveryStatus,
    EventType,
    Link,
    ReportCache,
    ReportCacheReason,
    ReportCacheState,
    RollupLevel,
    utcnow,
)
from newsletter.reports.aggregate import MEASURES, engagement_select, reasons_select

log = logging.getLogger(__name__)

# The event types each level keeps: what the reports show (reach per bulletin and agency;
# clicks and feedback per link and item). Provider bookkeeping (processed, delivered...) is
# left out: it is most of the webhook's events and no report counts it.
CACHED_TYPES: dict[RollupLevel, tuple[str, ...]] = {
    RollupLevel.bulletin: tuple(
        t.value for t in (EventType.bounce, EventType.click, EventType.open, EventType.unsubscribe)
    ),
    RollupLevel.link: tuple(
        t.value for t in (EventType.click, EventType.feedback_no, EventType.feedback_yes)
    ),
}
CACHED_TYPES[RollupLevel.item] = CACHED_TYPES[RollupLevel.link]

SENT = "sent"  # the cached rows of sent deliveries per agency (a type no event has)

_CACHE_COLUMNS = ["bulletin_id", "agency", "type", "link_id", "item_key", *MEASURES]


def stale_bulletins(session: Session, bulletin_ids: Collection[int]) -> dict[int, int]:
    """The bulletins among ``bulletin_ids`` whose cached rows are missing or out of date,
    with their current events version."""
    ids = sorted(set(bulletin_ids))
    if not ids:
        return {}
    current: dict[int, int] = {
        b: v
        for b, v in session.execute(
            select(
                col(BulletinEventsVersion.bulletin_id), col(BulletinEventsVersion.version)
            ).where(col(BulletinEventsVersion.bulletin_id).in_(ids))
        )
    }
    cached: dict[int, int] = {
        b: v
        for b, v in session.execute(
            select(col(ReportCacheState.bulletin_id), col(ReportCacheState.version)).where(
                col(ReportCacheState.bulletin_id).in_(ids)
            )
        )
    }
    return {b: current.get(b, 0) for b in ids if cached.get(b) != current.get(b, 0)}


def refresh_report_cache(session: Session, bulletin_ids: Collection[int]) -> list[int]:
    """Bring the cached rows of these (existing) bulletins up to date; returns the ids
    recomputed.

    When anything was recomputed, the session is committed so that the next report can use
    it: call it (the report builders do) with a session that holds no other pending work.
    """
    stale = stale_bulletins(session, bulletin_ids)
    if not stale:
        return []
    ids = sorted(stale)
    now = utcnow()
    state: Any = ReportCacheState.__table__  # type: ignore[attr-defined]
    claim = dialect_insert(session, state).values(
        [{"bulletin_id": b, "version": v, "computed_at": now} for b, v in sorted(stale.items())]
    )
    claim = claim.on_conflict_do_update(
        index_elements=["bulletin_id"],
        set_={"version": claim.excluded.version, "computed_at": claim.excluded.computed_at},
    )
    session.execute(claim)
    session.execute(delete(ReportCache).where(col(ReportCache.bulletin_id).in_(ids)))
    session.execute(delete(ReportCacheReason).where(col(ReportCacheReason.bulletin_id).in_(ids)))
    for level in (RollupLevel.bulletin, RollupLevel.link):
        query = engagement_select(level, bulletin_ids=ids, types=CACHED_TYPES[level])
        _insert_level(session, level, query)
    # Items on several links of one bulletin: one person clicking both is one person, so they
    # need their own distinct counts (an item on one link has that link's counts).
    for bulletin_id, keys in _shared_items(session, ids).items():
        link_ids = [i for ids_ in keys.values() for i in ids_]
        _insert_level(
            session,
            RollupLevel.item,
            engagement_select(
                RollupLevel.item,
                bulletin_ids=[bulletin_id],
                types=CACHED_TYPES[RollupLevel.item],
                link_ids=link_ids,
                item_keys=keys,
            ),
        )
    _insert_sent(session, ids)
    session.execute(
        insert(ReportCacheReason).from_select(
            ["bulletin_id", "rules_version", "reason", "events"], reasons_select(bulletin_ids=ids)
        )
    )
    session.commit()
    log.info("report cache recomputed for %d bulletins", len(ids))
    return ids


def _insert_sent(session: Session, bulletin_ids: list[int]) -> None:
    """Deliveries the transport accepted, per (bulletin, agency snapshot); erased subscribers'
    deliveries keep their agency and still count."""
    sent = (
        select(
            literal(RollupLevel.bulletin.value),
            col(Delivery.bulletin_id),
            col(Delivery.agency),
            literal(SENT),
            func.count(),
            func.count(),
        )
        .where(
            col(Delivery.bulletin_id).in_(bulletin_ids),
            col(Delivery.status) == DeliveryStatus.sent.value,
        )
        .group_by(col(Delivery.bulletin_id), col(Delivery.agency))
    )
    session.execute(
        insert(ReportCache).from_select(
            ["level", "bulletin_id", "agency", "type", "events_all", "deliveries_all"], sent
        )
    )


def _insert_level(session: Session, level: RollupLevel, query: Any) -> None:
    rows = query.subquery()
    session.execute(
        insert(ReportCache).from_select(
            ["level", *_CACHE_COLUMNS], select(literal(level.value), *rows.c)
        )
    )


def _shared_items(
    session: Session, bulletin_ids: Collection[int]
) -> dict[int, dict[str, list[int]]]:
    """Per bulletin: item key -> link ids, for items on more than one link."""
    groups: dict[int, dict[str, list[int]]] = {}
    rows = session.execute(
        select(col(Link.bulletin_id), col(Link.id), col(Link.catalogue_id), col(Link.url)).where(
            col(Link.bulletin_id).in_(sorted(bulletin_ids))
        )
    )
    for bulletin_id, link_id, catalogue_id, url in rows:
        if link_id is not None:
            groups.setdefault(bulletin_id, {}).setdefault(catalogue_id or url, []).append(link_id)
    return {
        b: {k: ids for k, ids in keys.items() if len(ids) > 1}
        for b, keys in groups.items()
        if any(len(ids) > 1 for ids in keys.values())
    }
