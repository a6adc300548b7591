"""The send ledger: the SQL that snapshots an audience and moves delivery rows through a send.

Save, then send: every row exists before any message leaves, a batch is marked ``sending`` and
committed *before* it is handed to a transport, and outcomes are recorded after. A process that
dies between the two leaves rows ``sending``; the next run turns them into ``unknown`` (the
provider may have them) instead of sending them again.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Dialect,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, col

from newsletter.db import dialect_insert
from newsletter.dispatch.audience import audience_select, may_be_sent_to
from newsletter.eventlog import note_changed
from newsletter.models import (
    Bulletin,
    Delivery,
    DeliveryStatus,
    Subscriber,
    Variant,
)

_ERROR_MAX = 2000  # Delivery.error's column width

# The per-batch statements run through ``session.connection()``: plain Core execution, without
# the ORM's bulk-UPDATE and result machinery (no objects are loaded, so there is nothing to
# synchronise), which cost more than the SQL itself at 1000 rows a batch.


def snapshot(session: Session, bulletin: Bulletin, *, now: datetime) -> int:
    """Add a ``pending`` row for every audience member who has none yet; return how many.

    One ``INSERT ... SELECT``: the audience joined to the bulletin's variants by agency, so the
    database does the work and memory stays flat at any size. ``ON CONFLICT DO NOTHING`` on
    (bulletin, subscriber) makes a second snapshot add nothing. Subscribers of an agency
    without a variant get no row (see :func:`unmatched_count`).
    """
    assert bulletin.id is not None
    audience = audience_select(bulletin).order_by(None).subquery("audience")
    columns = Delivery.__table__.c  # type: ignore[attr-defined]
    source = (
        select(
            literal(bulletin.id),
            audience.c.id,
            audience.c.agency,
            col(Variant.id),
            literal(DeliveryStatus.pending.value),
            literal(0),
            literal(now, type_=columns.created_at.type),
        )
        .select_from(audience)
        # A WHERE join (not JOIN ... ON): SQLite cannot parse "INSERT ... SELECT ... JOIN ... ON
        # ... ON CONFLICT" without a WHERE clause, and this one is the join condition anyway.
        .where(
            and_(
                col(Variant.bulletin_id) == bulletin.id,
                col(Variant.agency) == audience.c.agency,
                true(),
            )
        )
        # Variant first: each variant's rows get consecutive ids, so a batch (one variant)
        # is one contiguous id range for the keyset page and the range UPDATE that claims it.
        .order_by(col(Variant.id), audience.c.id)
    )
    stmt = (
        dialect_insert(session, Delivery)
        .from_select(
            [
                "bulletin_id",
                "subscriber_id",
                "agency",
                "variant_id",
                "status",
                "attempts",
                "created_at",
            ],
            source,
        )
        .on_conflict_do_nothing(index_elements=["bulletin_id", "subscriber_id"])
    )
    # Counted rather than read from rowcount, which psycopg reports as -1 for this statement.
    before = _rows(session, bulletin.id)
    session.execute(stmt)
    return _rows(session, bulletin.id) - before


def has_rows(session: Session, bulletin_id: int) -> bool:
    stmt = select(col(Delivery.id)).where(col(Delivery.bulletin_id) == bulletin_id).limit(1)
    return session.scalar(stmt) is not None


def _rows(session: Session, bulletin_id: int) -> int:
    stmt = select(func.count()).where(col(Delivery.bulletin_id) == bulletin_id)
    return int(session.scalar(stmt) or 0)


def unmatched_count(session: Session, bulletin: Bulletin) -> int:
    """Audience members whose agency has no variant (they cannot be sent this bulletin)."""
    audience = audience_select(bulletin).order_by(None).subquery("audience")
    has_variant = (
        select(col(Variant.id))
        .where(col(Variant.bulletin_id) == bulletin.id, col(Variant.agency) == audience.c.agency)
        .exists()
    )
    return int(session.scalar(select(func.count()).select_from(audience).where(~has_variant)) or 0)


def mark_interrupted(session: Session, bulletin_id: int) -> int:
    """Rows left ``sending`` by a run that died become ``unknown``: never resent silently."""
    result = session.execute(
        update(Delivery)
        .where(
            col(Delivery.bulletin_id) == bulletin_id,
            col(Delivery.status) == DeliveryStatus.sending,
        )
        .values(status=DeliveryStatus.unknown, error="interrupted: the sending process stopped")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def reopen_unknown(session: Session, bulletin_id: int) -> int:
    """An operator decided to resend the ``unknown`` rows: they become ``pending`` again."""
    result = session.execute(
        update(Delivery)
        .where(
            col(Delivery.bulletin_id) == bulletin_id,
            col(Delivery.status) == DeliveryStatus.unknown,
        )
        .values(status=DeliveryStatus.pending)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_status(session: Session, bulletin_id: int, status: DeliveryStatus) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                col(Delivery.bulletin_id) == bulletin_id, col(Delivery.status) == status
            )
        )
        or 0
    )


def last_batch_number(session: Session, bulletin_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(col(Delivery.batch))).where(col(Delivery.bulletin_id) == bulletin_id)
        )
        or 0
    )


class Row(NamedTuple):
    """A pending delivery with what its message needs (nothing else is loaded).

    A named tuple rather than a frozen dataclass: a page builds 1000 of them while a batch is
    in flight, and a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field)
    cost more than the query."""

    delivery_id: int
    agency: str
    email: str | None
    name: str
    subscriber_token: str | None
    sendable: bool  # subscriber still exists, is active and unsuppressed


def _page_statement() -> Select[int | None, str, str | None, str, str, bool | None]:
    """The keyset page query, with named parameters (see :func:`pending_page`)."""
    return (
        select(
            col(Delivery.id),
            col(Delivery.agency),
            col(Subscriber.email),
            col(Subscriber.name),
            col(Subscriber.token),
            may_be_sent_to(),
        )
        .select_from(Delivery)
        .outerjoin(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
        .where(
            col(Delivery.bulletin_id) == bindparam("p_bulletin"),
            col(Delivery.status) == DeliveryStatus.pending.value,
            col(Delivery.variant_id) == bindparam("p_variant"),
            col(Delivery.id) > bindparam("p_after"),
        )
        .order_by(col(Delivery.id))
        .limit(bindparam("p_limit", type_=Integer))
    )


@functools.lru_cache(maxsize=8)
def _compiled_page(dialect: Dialect) -> SQLCompiler:
    return _page_statement().compile(dialect=dialect)


def pending_page(
    session: Session, *, bulletin_id: int, variant_id: int, after_id: int, limit: int
) -> list[Row]:
    """The next ``limit`` pending rows of one variant with id > ``after_id`` (keyset paging).

    Keyset rather than OFFSET: each page costs the same however far the send has got, and rows
    that change status behind us cannot shift the window.

    The query is compiled once and run on the driver's cursor: building SQLAlchemy result rows
    for 1000 rows a batch took three times as long as the query, and that time holds the GIL
    the transport thread needs while a batch is in flight.
    """
    conn = session.connection()
    compiled = _compiled_page(conn.dialect)
    values = compiled.construct_params(
        {"p_bulletin": bulletin_id, "p_variant": variant_id, "p_after": after_id, "p_limit": limit}
    )
    params: Any = (
        tuple(values[name] for name in compiled.positiontup or ())
        if compiled.positional
        else values
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        fetched = cursor.fetchall()
    finally:
        cursor.close()
    return [
        Row(
            delivery_id,
            agency,
            email,
            name or "",
            token,
            email is not None and token is not None and bool(sendable),
        )
        for delivery_id, agency, email, name, token, sendable in fetched
    ]


def _in_chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    # Bounded IN lists keep every statement under SQLite's bound-parameter limit.
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def set_status(
    session: Session,
    ids: Sequence[int],
    status: DeliveryStatus,
    *,
    only_if: DeliveryStatus,
    batch: int | None = None,
    error: str | None = None,
    count_attempt: bool = False,
    sent_at: datetime | None = None,
    provider_message_id: str | None = None,
) -> int:
    """Move rows ``ids`` from ``only_if`` to ``status``; the guard makes every write check the
    current status, so a row is never moved from a state it is no longer in."""
    values: dict[str, object] = {"status": status}
    if batch is not None:
        values["batch"] = batch
    if error is not None:
        values["error"] = error[:_ERROR_MAX]
    elif status == DeliveryStatus.sent:
        values["error"] = None  # an earlier attempt's error no longer applies
    if count_attempt:
        values["attempts"] = col(Delivery.attempts) + 1
    if sent_at is not None:
        values["sent_at"] = sent_at
    if provider_message_id is not None:
        values["provider_message_id"] = provider_message_id[:200]
    moved = 0
    for chunk in _in_chunks(ids):
        result = session.connection().execute(
            update(Delivery)
            .where(col(Delivery.id).in_(chunk), col(Delivery.status) == only_if)
            .values(**values)
        )
        moved += int(result.rowcount)
    return moved


def mark_range_sending(
    session: Session, *, bulletin_id: int, variant_id: int, first_id: int, last_id: int, batch: int
) -> int:
    """Mark one keyset page's pending rows ``sending`` with its batch number.

    The page was "the first N pending rows of this variant with id > x", so the pending rows of
    the variant between its first and last id are exactly the page (minus those just skipped):
    a range UPDATE does what a 1000-item IN list would, with one bound parameter per end.
    """
    result = session.connection().execute(
        update(Delivery)
        .where(
            col(Delivery.bulletin_id) == bulletin_id,
            col(Delivery.status) == DeliveryStatus.pending,
            col(Delivery.variant_id) == variant_id,
            col(Delivery.id).between(first_id, last_id),
            _still_sendable(),
        )
        .values(status=DeliveryStatus.sending, batch=batch, attempts=col(Delivery.attempts) + 1)
    )
    return int(result.rowcount)


def _still_sendable() -> ColumnElement[bool]:
    """The delivery's subscriber exists and may still be sent to (checked again at claim time:
    the page may have been read while the previous batch was being sent)."""
    return (
        select(literal(1))
        .where(col(Subscriber.id) == col(Delivery.subscriber_id), may_be_sent_to())
        .exists()
    )


def pending_in_range(
    session: Session, *, bulletin_id: int, variant_id: int, first_id: int, last_id: int
) -> list[int]:
    stmt = select(col(Delivery.id)).where(
        col(Delivery.bulletin_id) == bulletin_id,
        col(Delivery.status) == DeliveryStatus.pending,
        col(Delivery.variant_id) == variant_id,
        col(Delivery.id).between(first_id, last_id),
    )
    return list(session.scalars(stmt))


def mark_batch_sent(
    session: Session,
    *,
    bulletin_id: int,
    batch: int,
    provider_message_id: str | None,
    now: datetime,
) -> int:
    """Every row of ``batch`` still ``sending`` is sent (the provider took the whole batch).

    Only one batch is ever ``sending`` per bulletin, so this touches exactly that batch.
    Sent counts are report figures: the bulletin's report version moves in this transaction."""
    note_changed(session, [bulletin_id], rewritten=False)  # sent rows: always recounted
    result = session.connection().execute(
        update(Delivery)
        .where(
            col(Delivery.bulletin_id) == bulletin_id,
            col(Delivery.status) == DeliveryStatus.sending,
            col(Delivery.batch) == batch,
        )
        .values(
            status=DeliveryStatus.sent,
            provider_message_id=(provider_message_id or "")[:200] or None,
            sent_at=now,
            error=None,  # an earlier attempt's error no longer applies
        )
    )
    return int(result.rowcount)


def record_sent(
    session: Session, sent: Sequence[tuple[int, str | None]], *, bulletin_id: int, now: datetime
) -> None:
    """Mark ``(delivery id, provider message id)`` pairs of ``bulletin_id`` sent (one
    executemany); the bulletin's report version moves in this transaction."""
    if not sent:
        return
    note_changed(session, [bulletin_id], rewritten=False)  # sent rows: always recounted
    groups: dict[str | None, list[int]] = {}
    for d_id, pmid in sent:
        groups.setdefault(pmid, []).append(d_id)
    if len(groups) * 10 <= len(sent):
        # SendGrid: one message id per request, so a few IN-list UPDATEs beat executemany.
        for pmid, ids in groups.items():
            set_status(
                session,
                ids,
                DeliveryStatus.sent,
                only_if=DeliveryStatus.sending,
                sent_at=now,
                provider_message_id=pmid,
            )
        return
    stmt = (
        update(Delivery)
        .where(
            col(Delivery.id) == bindparam("d_id"),
            col(Delivery.status) == DeliveryStatus.sending,
        )
        .values(
            status=DeliveryStatus.sent,
            provider_message_id=bindparam("d_pmid"),
            sent_at=now,
            error=None,
        )
    )
    session.connection().execute(
        stmt, [{"d_id": d_id, "d_pmid": (pmid or "")[:200] or None} for d_id, pmid in sent]
    )


def counts_by_agency(session: Session, bulletin_id: int) -> dict[str, dict[str, int]]:
    """``{agency: {status: count}}`` over the bulletin's whole ledger."""
    stmt = (
        select(col(Delivery.agency), col(Delivery.status), func.count())
        .where(col(Delivery.bulletin_id) == bulletin_id)
        .group_by(col(Delivery.agency), col(Delivery.status))
        .order_by(col(Delivery.agency))
    )
    out: dict[str, dict[str, int]] = {}
    for agency, status, n in session.execute(stmt):
        out.setdefault(agency, {})[str(status)] = int(n)
    return out
