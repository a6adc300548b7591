"""Reading the list back: subject access, export and filtered listing."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from newsletter.models import (
    Bulletin,
    Delivery,
    Event,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers.csvfile import FORMULA_STARTS

EXPORT_COLUMNS = ("email", "name", "agency", "audiences", "status")


def _guard(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula (CSV injection): prefix a quote.

    The importer strips that quote again, so an export re-imports unchanged.
    """
    return "'" + value if value[:1] and value[0] in FORMULA_STARTS else value


def audiences_text(subscriber: Subscriber) -> str:
    """The ``audiences`` cell of an export: ``children``, ``adults`` or ``children;adults``."""
    return ";".join(a.value for a in subscriber.audiences)


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    month: str
    agency: str
    status: str
    sent_at: datetime | None


@dataclass(frozen=True)
class SubjectAccess:
    """Everything the service holds about one person (UK GDPR art. 15)."""

    subscriber: Subscriber
    suppressed: str | None  # the suppression reason, when the address is on the list
    deliveries: list[DeliveryRecord]
    events: dict[str, int]  # event type -> count, over their deliveries


def subject_access(session: Session, subscriber: Subscriber) -> SubjectAccess:
    suppression = (
        session.get(Suppression, subscriber.address_hash) if subscriber.address_hash else None
    )
    deliveries = [
        DeliveryRecord(month, agency, status, sent_at)
        for month, agency, status, sent_at in session.execute(
            select(
                col(Bulletin.month),
                col(Delivery.agency),
                col(Delivery.status),
                col(Delivery.sent_at),
            )
            .join(Bulletin, col(Bulletin.id) == col(Delivery.bulletin_id))
            .where(col(Delivery.subscriber_id) == subscriber.id)
            .order_by(col(Bulletin.month))
        )
    ]
    events = {
        str(kind): int(count)
        for kind, count in session.execute(
            select(col(Event.type), func.count())
            .join(Delivery, col(Delivery.id) == col(Event.delivery_id))
            .where(col(Delivery.subscriber_id) == subscriber.id)
            .group_by(col(Event.type))
            .order_by(col(Event.type))
        )
    }
    return SubjectAccess(
        subscriber=subscriber,
        suppressed=suppression.reason if suppression else None,
        deliveries=deliveries,
        events=events,
    )


def iter_subscribers(
    session: Session,
    *,
    agency: str | None = None,
    status: SubscriberStatus | None = None,
    include_erased: bool = False,
    batch: int = 1000,
) -> Iterator[Subscriber]:
    """Subscribers by id, filtered, streamed in batches (flat memory on big lists)."""
    query = sm_select(Subscriber).order_by(col(Subscriber.id))
    if agency is not None:
        query = query.where(col(Subscriber.agency) == agency)
    if status is not None:
        query = query.where(col(Subscriber.status) == status)
    elif not include_erased:
        query = query.where(col(Subscriber.status) != SubscriberStatus.erased)
    last = 0
    while True:
        rows = session.exec(query.where(col(Subscriber.id) > last).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].id or 0
        session.expunge_all()


def export_csv(
    session: Session,
    out: TextIO,
    *,
    agency: str | None = None,
    status: SubscriberStatus | None = None,
) -> int:
    """Write the list as CSV (the import columns plus status); returns the rows written.

    Erased subscribers have nothing left to export and are skipped. The file re-imports
    as is (status is ignored on import: an import never changes who left).
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for s in iter_subscribers(session, agency=agency, status=status):
        # Every text column is guarded: an address may start with = or + as well as a name.
        cells = (s.email or "", s.name, s.agency, audiences_text(s), str(s.status))
        writer.writerow([_guard(cell) for cell in cells])
        count += 1
    return count
