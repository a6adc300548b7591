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

Incremental refresh: most changes to a sent bulletin are new events (clicks, opens, webhook
events) appended after the others. The state row keeps a high-water mark, the highest event id
the cached rows counted (read in the same snapshot as the events: REPEATABLE READ on
PostgreSQL). When the bulletin's version moved only by appends since (``eventlog`` tells
appends from rewrites: ``bulletin_events_version.rewritten``), the refresh reads just the events
after the mark, and for their deliveries whether an earlier event is in the same group, and
adds them: totals grow by the new events, distinct counts by the deliveries new to a group.
Sent rows are recounted every time (an index range). A state row moved meanwhile by another
refresh is left alone (a compare-and-set on version and mark). Deletions, machine flags,
rebuilt links, roll-ups, too many events since the mark (``INCREMENTAL_RANGE``) or rows cached before the
mark existed recount the bulletin as above. ``eventlog`` bumps before it inserts, so the events
of one bulletin are committed in id order and the mark never skips an event still in flight.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, insert, select, update
from sqlmodel import Session, col

from newsletter.db import dialect_insert, read_session, session_scope
from newsletter.models import (
    BulletinEventsVersion,
    Delivery,
    DeliveryStatus,
    Event,
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


@dataclass(frozen=True, slots=True)
class _Stale:
    """A bulletin whose cached rows are out of date, and what is known about them."""

    version: int  # its events version now
    rewritten: int  # the version of its last write other than appended events
    cached_version: int | None  # what the cached rows were computed from (None: nothing cached)
    watermark: int | None  # the highest event id the cached rows counted

    @property
    def appended_only(self) -> bool:
        """Only events appended (and deliveries marked sent) since the cached rows."""
        return (
            self.cached_version is not None
            and self.watermark is not None
            and self.rewritten <= self.cached_version
        )


def stale_bulletins(session: Session, bulletin_ids: Collection[int]) -> dict[int, int]:
    """The bulletins among ``bulletin_ids`` whose cached rows are missing or out of date,
    with their current events version."""
    return {b: s.version for b, s in _stale(session, bulletin_ids).items()}


def _stale(session: Session, bulletin_ids: Collection[int]) -> dict[int, _Stale]:
    ids = sorted(set(bulletin_ids))
    if not ids:
        return {}
    current: dict[int, tuple[int, int]] = {
        b: (v, r)
        for b, v, r in session.execute(
            select(
                col(BulletinEventsVersion.bulletin_id),
                col(BulletinEventsVersion.version),
                col(BulletinEventsVersion.rewritten),
            ).where(col(BulletinEventsVersion.bulletin_id).in_(ids))
        )
    }
    cached: dict[int, tuple[int, int | None]] = {
        b: (v, w)
        for b, v, w in session.execute(
            select(
                col(ReportCacheState.bulletin_id),
                col(ReportCacheState.version),
                col(ReportCacheState.watermark),
            ).where(col(ReportCacheState.bulletin_id).in_(ids))
        )
    }
    out: dict[int, _Stale] = {}
    for b in ids:
        version, rewritten = current.get(b, (0, 0))
        cached_version, watermark = cached.get(b, (None, None))
        if cached_version != version:
            out[b] = _Stale(version, rewritten, cached_version, watermark)
    return out


def refresh_report_cache(session: Session, bulletin_ids: Collection[int]) -> list[int]:
    """Bring the cached rows of these (existing) bulletins up to date; returns the ids
    recomputed (or brought up to date incrementally).

    The aggregation (seconds on a big bulletin) runs in a read-only transaction, which on
    SQLite holds no write lock, so clicks are recorded meanwhile; only storing the computed
    rows takes a short write transaction (newsletter.shortwrites' rule). The rows are stored
    with the events version read before aggregating, in the same transaction as their state
    row, so whichever of two concurrent refreshes commits last leaves a consistent pair (an
    older one is simply recomputed by the next report).

    When only events were appended since the cached rows (``rewritten`` not newer than the
    cached version) and not too long ago (``INCREMENTAL_RANGE``), the events after the cached
    high-water mark are added to the cached counts instead (see :func:`_increments`); anything
    else (a deletion, a machine flag, links rebuilt, rows cached before the high-water mark
    existed) recounts the bulletin.

    ``session`` is committed first, without expiring its objects (call it with a session
    holding no other pending work, as the report builders do) and its engine used for the rest.
    """
    # End the caller's transaction: on SQLite it would hold the write lock. Without expiring
    # what the caller loaded: the report builders read bulletins and links, then call this
    # several times per report, and each expiry reloaded every one of them, row by row.
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with read_session(_snapshot(engine)) as reading:
        stale = _stale(reading, bulletin_ids)
        if not stale:
            return []
        newest = reading.execute(select(func.max(col(Event.id)))).scalar() or 0
        increments: dict[int, _Increment] = {}
        for b, state in stale.items():
            if state.appended_only:
                assert state.watermark is not None
                if newest - state.watermark <= INCREMENTAL_RANGE:
                    increments[b] = _increments(reading, b, state.watermark)
        full = sorted(set(stale) - set(increments))
        computed = _compute(reading, full) if full else _Computed([], [], [])
        marks = {b: i.watermark for b, i in increments.items()}
        marks.update(_newest_events(reading, full))
    now = utcnow()
    done = list(full)
    with session_scope(engine) as writing:
        state_table: Any = ReportCacheState.__table__  # type: ignore[attr-defined]
        for b, increment in sorted(increments.items()):
            if _apply(writing, b, stale[b], increment, now):
                done.append(b)
        if full:
            claim = dialect_insert(writing, state_table).values(
                [
                    {
                        "bulletin_id": b,
                        "version": stale[b].version,
                        "computed_at": now,
                        "watermark": marks.get(b, 0),
                    }
                    for b in full
                ]
            )
            claim = claim.on_conflict_do_update(
                index_elements=["bulletin_id"],
                set_={
                    "version": claim.excluded.version,
                    "computed_at": claim.excluded.computed_at,
                    "watermark": claim.excluded.watermark,
                },
            )
            writing.execute(claim)
            writing.execute(delete(ReportCache).where(col(ReportCache.bulletin_id).in_(full)))
            writing.execute(
                delete(ReportCacheReason).where(col(ReportCacheReason.bulletin_id).in_(full))
            )
            if computed.cache:
                writing.execute(insert(ReportCache), computed.cache)
            if computed.sent:
                writing.execute(insert(ReportCache), computed.sent)
            if computed.reasons:
                writing.execute(insert(ReportCacheReason), computed.reasons)
    if full:
        log.info("report cache recomputed for %d bulletins", len(full))
    if len(done) > len(full):
        log.info("report cache brought up to date for %d bulletins", len(done) - len(full))
    return sorted(done)


# The new events are found by a range of the primary key (id > the bulletin's high-water mark,
# the other bulletins' events filtered out): past this many ids recorded since the mark,
# recounting the bulletin is the cheaper way.
INCREMENTAL_RANGE = 200_000


def _snapshot(engine: Engine) -> Engine:
    """``engine`` reading from one snapshot per transaction, as SQLite always does.

    The cached rows, their version and their high-water mark must describe the same events: on
    PostgreSQL, READ COMMITTED would give each statement its own snapshot.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def _newest_events(session: Session, bulletin_ids: list[int]) -> dict[int, int]:
    """Each bulletin's highest event id (0 without events): the mark of a recount."""
    return {
        b: session.execute(
            select(func.max(col(Event.id))).where(col(Event.bulletin_id) == b)
        ).scalar()
        or 0
        for b in bulletin_ids
    }


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


_Key = tuple[str, str | None, str, int | None, str | None]  # level, agency, type, link, item


@dataclass
class _Increment:
    """What a bulletin's new events add to its cached rows."""

    watermark: int  # the highest event id now counted
    rows: dict[_Key, list[int]]  # the six MEASURES to add, per cached row
    reasons: dict[tuple[str | None, str | None], int]  # (rules_version, reason) -> events
    sent: list[dict[str, Any]]  # the sent rows, recounted


_COUNTED_TYPES = sorted({t for types in CACHED_TYPES.values() for t in types})


def _increments(session: Session, bulletin_id: int, low: int) -> _Increment:
    """What the events of ``bulletin_id`` with ``id > low`` add to its cached rows.

    Totals add every new event. A distinct count adds a new event's delivery only when no
    earlier event of that delivery is in the same group (id <= ``low``, read through
    ix_event_delivery_type for just the deliveries concerned) nor an earlier new one: the
    number a recount would give, since the cached rows counted exactly the events up to
    ``low``. Rolled-up rows do not change (a roll-up deletes events: it is a rewrite).
    """
    new_events = session.execute(
        select(
            col(Event.id),
            col(Event.delivery_id),
            col(Event.agency),
            col(Event.type),
            col(Event.link_id),
            col(Event.machine),
            col(Event.machine_reason),
            col(Event.rules_version),
        )
        # "+ 0": a range of the primary key, not every event of the bulletin through its index.
        .where(col(Event.id) > low, col(Event.bulletin_id) + 0 == bulletin_id)
        .order_by(col(Event.id))
    ).all()
    item_of = {
        link_id: key
        for key, link_ids in _shared_items(session, [bulletin_id]).get(bulletin_id, {}).items()
        for link_id in link_ids
    }

    def groups(agency: str | None, kind: str, link_id: int | None) -> list[_Key]:
        keys: list[_Key] = []
        if kind in CACHED_TYPES[RollupLevel.bulletin]:
            keys.append((RollupLevel.bulletin.value, agency, kind, None, None))
        if link_id is not None and kind in CACHED_TYPES[RollupLevel.link]:
            keys.append((RollupLevel.link.value, agency, kind, link_id, None))
            if link_id in item_of and kind in CACHED_TYPES[RollupLevel.item]:
                keys.append((RollupLevel.item.value, agency, kind, None, item_of[link_id]))
        return keys

    seen_all: set[tuple[_Key, int]] = set()
    seen_human: set[tuple[_Key, int]] = set()
    deliveries = sorted(
        {d for _i, d, _a, kind, *_ in new_events if d is not None and kind in _COUNTED_TYPES}
    )
    for start in range(0, len(deliveries), 500):
        earlier = session.execute(
            select(
                col(Event.delivery_id),
                col(Event.agency),
                col(Event.type),
                col(Event.link_id),
                col(Event.machine),
            )
            .where(
                col(Event.delivery_id).in_(deliveries[start : start + 500]),
                col(Event.type).in_(_COUNTED_TYPES),
                col(Event.bulletin_id) == bulletin_id,
                col(Event.id) <= low,
            )
            .distinct()
        )
        for delivery_id, agency, kind, link_id, machine in earlier:
            for key in groups(agency, kind, link_id):
                seen_all.add((key, delivery_id))
                if not machine:
                    seen_human.add((key, delivery_id))
    rows: dict[_Key, list[int]] = {}
    reasons: dict[tuple[str | None, str | None], int] = {}
    high = low
    for event_id, delivery_id, agency, kind, link_id, machine, reason, rules_version in new_events:
        high = max(high, event_id)
        human = not machine
        if machine:
            reasons[(rules_version, reason)] = reasons.get((rules_version, reason), 0) + 1
        for key in groups(agency, kind, link_id):
            m = rows.setdefault(key, [0] * len(MEASURES))
            m[0] += 1
            m[1] += human
            if delivery_id is None:
                m[4] += 1
                m[5] += human
                continue
            if (key, delivery_id) not in seen_all:
                seen_all.add((key, delivery_id))
                m[2] += 1
            if human and (key, delivery_id) not in seen_human:
                seen_human.add((key, delivery_id))
                m[3] += 1
    return _Increment(high, rows, reasons, _sent_rows(session, [bulletin_id]))


def _apply(
    writing: Session, bulletin_id: int, stale: _Stale, increment: _Increment, now: Any
) -> bool:
    """Add ``increment`` to the bulletin's cached rows, if they are still the ones it was
    computed against (a concurrent refresh may have moved them: then it leaves them be)."""
    cache: Any = ReportCache.__table__  # type: ignore[attr-defined]
    reasons: Any = ReportCacheReason.__table__  # type: ignore[attr-defined]
    state: Any = ReportCacheState.__table__  # type: ignore[attr-defined]
    moved = writing.execute(
        update(state)
        .where(
            state.c.bulletin_id == bulletin_id,
            state.c.version == stale.cached_version,
            state.c.watermark == stale.watermark,
        )
        .values(version=stale.version, watermark=increment.watermark, computed_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    existing: dict[_Key, tuple[int, list[int]]] = {
        (level, agency, kind, link_id, item_key): (row_id, list(measures))
        for row_id, level, agency, kind, link_id, item_key, *measures in writing.execute(
            select(
                cache.c.id,
                cache.c.level,
                cache.c.agency,
                cache.c.type,
                cache.c.link_id,
                cache.c.item_key,
                *(cache.c[m] for m in MEASURES),
            ).where(cache.c.bulletin_id == bulletin_id, cache.c.type != SENT)
        )
    }
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for key, added in increment.rows.items():
        if key in existing:
            row_id, measures = existing[key]
            total = [a + b for a, b in zip(measures, added, strict=True)]
            updates.append({"row_id": row_id, **dict(zip(MEASURES, total, strict=True))})
        else:
            level, agency, kind, link_id, item_key = key
            inserts.append(
                {
                    "level": level,
                    "bulletin_id": bulletin_id,
                    "agency": agency,
                    "type": kind,
                    "link_id": link_id,
                    "item_key": item_key,
                    **dict(zip(MEASURES, added, strict=True)),
                }
            )
    if updates:
        writing.execute(
            update(cache)
            .where(cache.c.id == bindparam("row_id"))
            .values({m: bindparam(m) for m in MEASURES}),
            updates,
        )
    writing.execute(delete(cache).where(cache.c.bulletin_id == bulletin_id, cache.c.type == SENT))
    inserts.extend(increment.sent)
    for row in inserts:  # rows of two shapes (sent rows have fewer columns): one by one
        writing.execute(insert(cache).values(**row))
    if increment.reasons:
        known = {
            (version, reason): (row_id, events)
            for row_id, version, reason, events in writing.execute(
                select(
                    reasons.c.id, reasons.c.rules_version, reasons.c.reason, reasons.c.events
                ).where(reasons.c.bulletin_id == bulletin_id)
            )
        }
        for (version, reason), events in increment.reasons.items():
            if (version, reason) in known:
                row_id, before = known[(version, reason)]
                writing.execute(
                    update(reasons).where(reasons.c.id == row_id).values(events=before + events)
                )
            else:
                writing.execute(
                    insert(reasons).values(
                        bulletin_id=bulletin_id, rules_version=version, reason=reason, events=events
                    )
                )
    return True


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
