"""What may happen to one subscriber after import: leave, change preferences, be erased.

Every function works inside the caller's transaction and never commits. Status changes are
guarded UPDATEs (``WHERE status = 'active'``), so two clicks on one unsubscribe link, or an
unsubscribe racing a bounce, record one change.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.db import dialect_insert
from newsletter.eventlog import add_event, clear_payloads
from newsletter.models import (
    Agency,
    Delivery,
    Event,
    EventSource,
    EventType,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers.addresses import AddressError, normalise_email

log = logging.getLogger(__name__)

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # secrets.token_urlsafe's alphabet


class SubscriberError(ValueError):
    """A change that cannot be made; the message says why."""


def new_token() -> str:
    """An unguessable subscriber token for /u and /p links (192 bits)."""
    return secrets.token_urlsafe(24)


def find_by_email(session: Session, email: str) -> Subscriber | None:
    """The subscriber with this address (any spelling of it), or None."""
    try:
        canonical = normalise_email(email)
    except AddressError:
        return None
    return session.exec(select(Subscriber).where(col(Subscriber.email) == canonical)).first()


def find_by_token(session: Session, token: str) -> Subscriber | None:
    """The subscriber a /u or /p token names, or None (unknown, malformed or erased)."""
    if _TOKEN_SHAPE.fullmatch(token) is None:  # also keeps NUL bytes away from PostgreSQL
        return None
    subscriber = session.exec(select(Subscriber).where(col(Subscriber.token) == token)).first()
    if subscriber is None or subscriber.status == SubscriberStatus.erased:
        return None
    return subscriber


def _set_status(
    session: Session, subscriber: Subscriber, status: SubscriberStatus, *, now: datetime
) -> bool:
    """Move an active subscriber to ``status``; False when they were not active."""
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.id) == subscriber.id)
        .where(col(Subscriber.status) == SubscriberStatus.active)
        .values(status=status.value, status_changed_at=now, updated_at=now)
    )
    session.refresh(subscriber)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unsubscribe(
    session: Session,
    subscriber: Subscriber,
    *,
    now: datetime,
    source: EventSource,
    bulletin_id: int | None = None,
    delivery_id: int | None = None,
    method: str | None = None,
    user_agent: str | None = None,
) -> bool:
    """Unsubscribe at once and record an ``unsubscribe`` Event (agency-level, no address).

    Returns False, and records nothing, when the subscriber was not active (already left,
    bounced, complained or erased): the call is safe to repeat.
    """
    if not _set_status(session, subscriber, SubscriberStatus.unsubscribed, now=now):
        return False
    add_event(
        session,
        Event(
            delivery_id=delivery_id,
            bulletin_id=bulletin_id,
            agency=subscriber.agency,
            type=EventType.unsubscribe,
            occurred_at=now,
            recorded_at=now,
            source=source,
            method=method,
            user_agent=(user_agent or "")[:500] or None,
        ),
    )
    session.flush()
    log.info("subscriber %s unsubscribed (%s)", subscriber.id, source.value)
    return True


def unsubscribed_at_provider(session: Session, subscriber: Subscriber, *, now: datetime) -> bool:
    """The provider reports that the person unsubscribed through it (SendGrid's own link, or
    the mailbox's List-Unsubscribe): the same status change as :func:`unsubscribe`, without an
    Event of ours, since the provider's own ``unsubscribe`` event is stored as it arrives.

    Returns False, and changes nothing, when the subscriber was not active.
    """
    if not _set_status(session, subscriber, SubscriberStatus.unsubscribed, now=now):
        return False
    log.info("subscriber %s unsubscribed (%s)", subscriber.id, "provider")
    return True


def resubscribe(session: Session, subscriber: Subscriber, *, now: datetime, source: str) -> bool:
    """The person themself asks to receive the bulletin again (preference centre only).

    Only an ``unsubscribed`` subscriber can come back, never a suppressed address; their new
    consent is recorded. Returns False when nothing changed.
    """
    if subscriber.status != SubscriberStatus.unsubscribed:
        return False
    suppressed = session.get(Suppression, subscriber.address_hash or "")
    if suppressed is not None:
        return False
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.id) == subscriber.id)
        .where(col(Subscriber.status) == SubscriberStatus.unsubscribed)
        .values(
            status=SubscriberStatus.active.value,
            status_changed_at=now,
            updated_at=now,
            consent_source=source,
            consent_at=now,
        )
    )
    session.refresh(subscriber)
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Preferences:
    agency: str
    children: bool
    adults: bool


def set_preferences(
    session: Session, subscriber: Subscriber, prefs: Preferences, *, now: datetime
) -> bool:
    """Change agency and audiences of an active subscriber; False when nothing changed.

    Raises SubscriberError for an unknown agency, no audience at all, or a subscriber who
    is not active.
    """
    if subscriber.status != SubscriberStatus.active:
        raise SubscriberError("only an active subscription has preferences to change")
    if session.get(Agency, prefs.agency) is None:
        raise SubscriberError(f"unknown agency {prefs.agency!r}")
    if not (prefs.children or prefs.adults):
        raise SubscriberError("choose at least one audience (or leave the mailing list)")
    current = Preferences(subscriber.agency, subscriber.serves_children, subscriber.serves_adults)
    if current == prefs:
        return False
    subscriber.agency = prefs.agency
    subscriber.serves_children = prefs.children
    subscriber.serves_adults = prefs.adults
    subscriber.updated_at = now
    session.add(subscriber)
    session.flush()
    return True


def suppress(session: Session, hashed_address: str, *, reason: str) -> None:
    """Add an address hash to the suppression list (idempotent: the first reason stays)."""
    insert = dialect_insert(session, Suppression.__table__)  # type: ignore[attr-defined]
    session.execute(
        insert.values(address_hash=hashed_address, reason=reason).on_conflict_do_nothing(
            index_elements=["address_hash"]
        )
    )


_STOPPING = {SubscriberStatus.bounced: "bounced", SubscriberStatus.complained: "complained"}


def stop_sending(
    session: Session, subscriber: Subscriber, *, status: SubscriberStatus, now: datetime
) -> bool:
    """A hard bounce or a spam complaint: never mail this address again.

    ``status`` is ``bounced`` or ``complained``. The address hash goes on the suppression
    list (so no import brings it back, even after erasure) and the subscriber's status
    changes unless they already left another way (an unsubscribed person who complains
    becomes ``complained``: the stronger reason wins). Returns True when the status changed.
    For the provider-event handlers (tracking); it records no Event itself.
    """
    reason = _STOPPING.get(status)
    if reason is None:
        raise ValueError(f"stop_sending takes bounced or complained, not {status}")
    if subscriber.address_hash:
        suppress(session, subscriber.address_hash, reason=reason)
    leaving = [SubscriberStatus.active.value]
    if status == SubscriberStatus.complained:
        leaving += [SubscriberStatus.unsubscribed.value, SubscriberStatus.bounced.value]
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.id) == subscriber.id)
        .where(col(Subscriber.status).in_(leaving))
        .values(status=status.value, status_changed_at=now, updated_at=now)
    )
    session.refresh(subscriber)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def erase(session: Session, subscriber: Subscriber, *, now: datetime) -> None:
    """Remove a person's data (UK GDPR art. 17) and keep the anonymous agency-level history.

    * the address hash moves to the suppression list, so no import brings them back;
    * email, address hash, name and consent details are cleared; the token is rotated (old
      links 404); status becomes ``erased``; the row keeps only agency and timestamps;
    * their deliveries lose the subscriber link but keep the agency snapshot, and their
      events stay (their provider payloads, which can hold the address, are dropped), so
      agency-level report totals do not change.
    """
    if subscriber.status == SubscriberStatus.erased:
        return
    if subscriber.address_hash:
        suppress(session, subscriber.address_hash, reason="erased")
    delivery_ids = select(col(Delivery.id)).where(col(Delivery.subscriber_id) == subscriber.id)
    clear_payloads(session, col(Event.delivery_id).in_(delivery_ids))
    session.execute(
        update(Delivery)
        .where(col(Delivery.subscriber_id) == subscriber.id)
        .values(subscriber_id=None)
    )
    subscriber.email = None
    subscriber.address_hash = None
    subscriber.name = ""
    subscriber.token = new_token()
    subscriber.consent_source = ""
    subscriber.consent_at = None
    subscriber.status = SubscriberStatus.erased
    subscriber.status_changed_at = now
    subscriber.updated_at = now
    session.add(subscriber)
    session.flush()
    log.info("subscriber %s erased", subscriber.id)
