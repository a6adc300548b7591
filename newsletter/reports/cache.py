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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select
from sqlmodel import Session, col

from newsletter.db import dialect_insert, read_session, session_scope
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
        t.value
        for t in (
            EventType.bounce,
            EventType.click,
            EventType.complaint,
            EventType.open,
            EventType.unsubscribe,
        )
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

    The aggregation (seconds on a big bulletin) runs in a read-only transaction, which on
    SQLite holds no write lock, so clicks are recorded meanwhile; only storing the computed
    rows takes a short write transaction (newsletter.shortwrites' rule). The rows are stored
    with the events version read before aggregating, in the same transaction as their state
    row, so whichever of two concurrent refreshes commits last leaves a consistent pair (an
    older one is simply recomputed by the next report).

    ``session`` is committed first (call it with a session holding no other pending work, as
    the report builders do) and its engine used for the rest.
    """
    session.commit()  # end the caller's transaction: on SQLite it would hold the write lock
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with read_session(engine) as reading:
        stale = stale_bulletins(reading, bulletin_ids)
        if not stale:
            return []
        ids = sorted(stale)
        computed = _compute(reading, ids)
    now = utcnow()
    with session_scope(engine) as writing:
        state: Any = ReportCacheState.__table__  # type: ignore[attr-defined]
        claim = dialect_insert(writing, state).values(
            [{"bulletin_id": b, "version": v, "computed_at": now} for b, v in sorted(stale.items())]
        )
        claim = claim.on_conflict_do_update(
            index_elements=["bulletin_id"],
            set_={"version": claim.excluded.version, "computed_at": claim.excluded.computed_at},
        )
        writing.execute(claim)
        writing.execute(delete(ReportCache).where(col(ReportCache.bulletin_id).in_(ids)))
        writing.execute(
            delete(ReportCacheReason).where(col(ReportCacheReason.bulletin_id).in_(ids))
        )
        if computed.cache:
            writing.execute(insert(ReportCache), computed.cache)
        if computed.sent:
            writing.execute(insert(ReportCache), computed.sent)
        if computed.reasons:
            writing.execute(insert(ReportCacheReason), computed.reasons)
    log.info("report cache recomputed for %d bulletins", len(ids))
    return ids


@dataclass
class _Computed:
    cache: list[dict[str, Any]]
    sent: list[dict[str, Any]]  # fewer columns than ``cache``: inserted on their own
    reasons: list[dict[str, Any]]


def _compute(session: Session, ids: list[int]) -> _Computed:
    """The cache rows of these bulletins, aggregated from raw and rolled-up events."""
    cache: list[dict[str, Any]] = []
    for level in (RollupLevel.bulletin, RollupLevel.link):
        query = engagement_select(level, bulletin_ids=ids, types=CACHED_TYPES[level])
        cache.extend(_rows(session, level, query))
    # Items on several links of one bulletin: one person clicking both is one person, so they
    # need their own distinct counts (an item on one link has that link's counts).
    for bulletin_id, keys in _shared_items(session, ids).items():
        link_ids = [i for ids_ in keys.values() for i in ids_]
        cache.extend(
            _rows(
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
        )
    reason_columns = ["bulletin_id", "rules_version", "reason", "events"]
    reasons = [
        dict(zip(reason_columns, row, strict=True))
        for row in session.execute(reasons_select(bulletin_ids=ids))
    ]
    return _Computed(cache, _sent_rows(session, ids), reasons)


def _sent_rows(session: Session, bulletin_ids: list[int]) -> list[dict[str, Any]]:
    """Deliveries the transport accepted, per (bulletin, agency snapshot); erased subscribers'
    deliveries keep their agency and still count."""
    sent = (
        select(col(Delivery.bulletin_id), col(Delivery.agency), func.count())
        .where(
            col(Delivery.bulletin_id).in_(bulletin_ids),
            col(Delivery.status) == DeliveryStatus.sent.value,
        )
        .group_by(col(Delivery.bulletin_id), col(Delivery.agency))
    )
    return [
        {
            "level": RollupLevel.bulletin.value,
            "bulletin_id": bulletin_id,
            "agency": agency,
            "type": SENT,
            "events_all": n,
            "deliveries_all": n,
        }
        for bulletin_id, agency, n in session.execute(sent)
    ]


def _rows(session: Session, level: RollupLevel, query: Any) -> list[dict[str, Any]]:
    rows = query.subquery()
    return [
        {"level": level.value, **dict(zip(_CACHE_COLUMNS, row, strict=True))}
        for row in session.execute(select(*rows.c))
    ]


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
