"""Plain factories: ``make_x(session, **overrides)`` adds a valid row and flushes it."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from sqlmodel import Session

from newsletter.accounts import user_id
from newsletter.eventlog import add_event, note_changed
from newsletter.models import (
    Agency,
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Link,
    LinkKind,
    Role,
    Subscriber,
    SubscriberStatus,
    User,
    UserRole,
    Variant,
    utcnow,
)
from newsletter.passwords import hash_password
from newsletter.tokens import address_hash

_seq = itertools.count(1)


def make_agency(session: Session, **overrides: Any) -> Agency:
    slug = overrides.pop("slug", f"agency-{next(_seq)}")
    existing = session.get(Agency, slug)
    if existing is not None:
        return existing
    values: dict[str, Any] = {"slug": slug, "name": slug.replace("-", " ").title(), "domains": []}
    values.update(overrides)
    agency = Agency(**values)
    session.add(agency)
    session.flush()
    return agency


def make_subscriber(session: Session, **overrides: Any) -> Subscriber:
    n = next(_seq)
    agency = overrides.pop("agency", "health")
    make_agency(session, slug=agency)
    values: dict[str, Any] = {
        "email": f"person{n}@example.org",
        "address_hash": None,
        "name": f"Person {n}",
        "agency": agency,
        "serves_children": True,
        "serves_adults": False,
        "status": SubscriberStatus.active,
        "token": secrets.token_urlsafe(24),
        "consent_source": "test",
        "consent_at": utcnow(),
    }
    values.update(overrides)
    if values["address_hash"] is None and values["email"] is not None:
        values["address_hash"] = address_hash(values["email"])
    subscriber = Subscriber(**values)
    session.add(subscriber)
    session.flush()
    return subscriber


def make_bulletin(session: Session, **overrides: Any) -> Bulletin:
    n = next(_seq)
    values: dict[str, Any] = {
        "month": f"{2100 + n // 12:04d}-{n % 12 + 1:02d}",
        "theme": f"Theme {n}",
        "subject": f"Learning bulletin {n}",
        "preheader": "This month's learning",
        "status": BulletinStatus.draft,
    }
    values.update(overrides)
    bulletin = Bulletin(**values)
    session.add(bulletin)
    session.flush()
    return bulletin


def make_variant(session: Session, bulletin: Bulletin, **overrides: Any) -> Variant:
    agency = overrides.pop("agency", "health")
    make_agency(session, slug=agency)
    values: dict[str, Any] = {
        "bulletin_id": bulletin.id,
        "agency": agency,
        "subject": bulletin.subject,
        "html": "<html><body><p>Hello __NL_NAME__</p></body></html>",
        "text": "Hello __NL_NAME__",
    }
    values.update(overrides)
    variant = Variant(**values)
    variant.html_bytes = len(variant.html.encode())
    session.add(variant)
    session.flush()
    return variant


def make_link(session: Session, bulletin: Bulletin, **overrides: Any) -> Link:
    n = next(_seq)
    values: dict[str, Any] = {
        "bulletin_id": bulletin.id,
        "position": n,
        "section": "Training",
        "kind": LinkKind.course,
        "catalogue_id": f"course-{n}",
        "title": f"Course {n}",
        "url": f"https://learning.example.org/courses/{n}",
    }
    values.update(overrides)
    link = Link(**values)
    session.add(link)
    session.flush()
    return link


def make_delivery(
    session: Session, bulletin: Bulletin, subscriber: Subscriber, variant: Variant, **overrides: Any
) -> Delivery:
    values: dict[str, Any] = {
        "bulletin_id": bulletin.id,
        "subscriber_id": subscriber.id,
        "agency": subscriber.agency,
        "variant_id": variant.id,
        "status": DeliveryStatus.sent,
        "sent_at": utcnow(),
    }
    values.update(overrides)
    delivery = Delivery(**values)
    session.add(delivery)
    if delivery.status == DeliveryStatus.sent:
        note_changed(session, [delivery.bulletin_id])  # sent counts are report figures
    session.flush()
    return delivery


def make_event(session: Session, delivery: Delivery, **overrides: Any) -> Event:
    values: dict[str, Any] = {
        "delivery_id": delivery.id,
        "bulletin_id": delivery.bulletin_id,
        "agency": delivery.agency,
        "type": EventType.click,
        "occurred_at": utcnow(),
    }
    values.update(overrides)
    event = Event(**values)
    add_event(session, event)  # as every writer of events does
    session.flush()
    return event


# Hashing costs tens of milliseconds: tests share one hash per password.
_HASHES: dict[str, str] = {}


def make_user(session: Session, **overrides: Any) -> User:
    """A staff user. ``roles`` (default none), ``password`` (hashed; None: invited only),
    ``totp_secret`` (set and confirmed: the second factor is on)."""
    n = next(_seq)
    roles = overrides.pop("roles", ())
    password = overrides.pop("password", "correct horse battery")
    values: dict[str, Any] = {"email": f"staff{n}@example.org", "name": f"Staff {n}"}
    if password is not None:
        if password not in _HASHES:
            _HASHES[password] = hash_password(password)
        values["password_hash"] = _HASHES[password]
        values["password_changed_at"] = utcnow()
    if overrides.get("totp_secret"):
        overrides.setdefault("totp_confirmed_at", utcnow())
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    for role in roles:
        session.add(UserRole(user_id=user_id(user), role=Role(role)))
    session.flush()
    return user
