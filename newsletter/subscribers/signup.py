"""Public sign-up with double opt-in: a pending record, a signed link, then a subscriber.

Contract:

* :func:`agency_choice` says which agencies a work address may join: the agencies whose
  ``domains:`` (agencies.yaml) the address's domain belongs to; an unknown domain goes to the
  ``other`` agency, or is refused (NEWSLETTER_SIGNUP_UNKNOWN_DOMAINS=refuse).
* :func:`request_signup` stores only a :class:`PendingSignup` (address, name, agency,
  audiences, the consent wording shown) and returns the confirmation link's token, or None
  when this address already asked too often lately (the caller answers the same either way).
  Whether the address is known plays no part: the caller's answer must not reveal it. At most
  three emails an hour go to one address (``ratelimit.SIGNUP_ADDRESS``), whoever asks.
* The token is ``<pending id>.<expiry>.<secret>.<mac>``: the secret is random (only its
  SHA-256 is stored), the MAC (HMAC-SHA256 with the secret key) covers id, expiry and secret.
  It works once, until the expiry (72 hours).
* :func:`confirm_signup` turns a valid, unexpired, unused token into an active subscriber
  with the lawful basis *consent* (how, when and the wording shown are recorded). It is the
  only way back for an erased, complained or bounced address: the fresh confirmation lifts
  its suppression. The pending record is deleted: a second use finds nothing.
* :func:`purge_expired_signups` deletes pending records past their expiry.

Everything works inside the caller's transaction and never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import Session, col, select

from newsletter import ratelimit
from newsletter.config import UnknownDomains
from newsletter.models import (
    Agency,
    LawfulBasis,
    PendingSignup,
    Source,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers.addresses import AgencyDomains
from newsletter.subscribers.changes import new_token
from newsletter.subscribers.fields import clean_name
from newsletter.tokens import address_hash

log = logging.getLogger(__name__)

CONFIRM_WITHIN = timedelta(hours=72)
OTHER_AGENCY = "other"
CONSENT_METHOD = "sign-up form at /subscribe, confirmed by the link emailed to the address"


class SignupRefused(ValueError):
    """The address cannot sign up here (for example an unknown domain under ``refuse``)."""


@dataclass(frozen=True, slots=True)
class AgencyChoice:
    """The agencies an address may join: one is preselected, several are chosen among."""

    agencies: tuple[Agency, ...]
    by_domain: bool  # False: the domain is unknown and the address goes to "other"


def agency_choice(session: Session, email: str, *, unknown_domains: UnknownDomains) -> AgencyChoice:
    """Which agencies ``email`` (canonical) may join; raises SignupRefused (see module)."""
    agencies = session.exec(select(Agency).order_by(col(Agency.position))).all()
    domains = AgencyDomains.from_pairs((a.slug, a.domains) for a in agencies)
    slugs = domains.candidates(email)
    if slugs:
        return AgencyChoice(tuple(a for a in agencies if a.slug in slugs), by_domain=True)
    other = next((a for a in agencies if a.slug == OTHER_AGENCY), None)
    if unknown_domains == "refuse" or other is None:
        raise SignupRefused(
            "Sign up with the work email address your organisation gave you: this one is not "
            "from a partner agency"
        )
    return AgencyChoice((other,), by_domain=False)


def consent_wording(partnership_name: str) -> str:
    """What the form tells people they agree to; stored with each sign-up as shown."""
    return (
        f"I would like to receive {partnership_name}'s monthly learning bulletin by email. "
        "The partnership keeps my name, work email address, agency and audiences for this, "
        "and counts opens and clicks on training links to report to its board. I can "
        "unsubscribe at any time with the link in every bulletin."
    )


@dataclass(frozen=True, slots=True)
class SignupRequest:
    email: str  # canonical
    name: str
    agency: str
    children: bool
    adults: bool


def _mac(key: bytes, pending_id: int, expires: int, secret: str) -> str:
    message = f"signup|{pending_id}|{expires}|{secret}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def request_signup(
    session: Session,
    request: SignupRequest,
    *,
    key: bytes,
    wording: str,
    now: datetime,
) -> str | None:
    """Store a pending sign-up; the confirmation token, or None when asked too often.

    Raises :class:`~newsletter.subscribers.fields.FieldError` for a name that breaks the rule
    every way in shares (callers check it first, to show the person a message).
    """
    name = clean_name(request.name)
    purge_expired_signups(session, now=now)
    if not ratelimit.hit(session, ratelimit.SIGNUP_ADDRESS, request.email, now=now).allowed:
        log.info("sign-up: the address asked too often within the hour; no email sent")
        return None
    secret = secrets.token_urlsafe(24)
    expires = now + CONFIRM_WITHIN
    pending = PendingSignup(
        email=request.email,
        name=name,
        agency=request.agency,
        serves_children=request.children,
        serves_adults=request.adults,
        secret_hash=_secret_hash(secret),
        consent_wording=wording,
        created_at=now,
        expires_at=expires,
    )
    session.add(pending)
    session.flush()
    assert pending.id is not None
    stamp = int(expires.timestamp())
    return f"{pending.id}.{stamp}.{secret}.{_mac(key, pending.id, stamp, secret)}"


class ConfirmState(StrEnum):
    ready = "ready"  # valid and unused: can be confirmed
    expired = "expired"
    invalid = "invalid"  # forged, mistyped or already used


@dataclass(frozen=True, slots=True)
class Checked:
    state: ConfirmState
    pending: PendingSignup | None = None


def check_token(session: Session, token: str, *, key: bytes, now: datetime) -> Checked:
    """What a confirmation token stands for; changes nothing."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        return Checked(ConfirmState.invalid)
    pending_id, expires, secret, mac = int(parts[0]), int(parts[1]), parts[2], parts[3]
    if len(parts[0]) > 18 or len(parts[1]) > 12:
        return Checked(ConfirmState.invalid)
    if not hmac.compare_digest(mac.encode(), _mac(key, pending_id, expires, secret).encode()):
        return Checked(ConfirmState.invalid)
    if expires <= now.timestamp():
        return Checked(ConfirmState.expired)
    pending = session.get(PendingSignup, pending_id)
    if pending is None or not hmac.compare_digest(pending.secret_hash, _secret_hash(secret)):
        return Checked(ConfirmState.invalid)
    if pending.expires_at <= now:
        return Checked(ConfirmState.expired)
    return Checked(ConfirmState.ready, pending)


def confirm_signup(session: Session, pending: PendingSignup, *, now: datetime) -> Subscriber:
    """Make the pending sign-up a subscription (see the module docstring); returns it."""
    hashed = address_hash(pending.email)
    subscriber = session.exec(
        select(Subscriber).where(col(Subscriber.email) == pending.email)
    ).first()
    if subscriber is None:
        subscriber = Subscriber(
            email=pending.email,
            address_hash=hashed,
            name=pending.name,
            agency=pending.agency,
            serves_children=pending.serves_children,
            serves_adults=pending.serves_adults,
            status=SubscriberStatus.active,
            token=new_token(),
            source=Source.signup.value,
            created_at=now,
            updated_at=now,
        )
    else:
        if subscriber.status != SubscriberStatus.active:
            subscriber.status = SubscriberStatus.active
            subscriber.status_changed_at = now
        subscriber.name = pending.name or subscriber.name
        subscriber.agency = pending.agency
        subscriber.serves_children = pending.serves_children
        subscriber.serves_adults = pending.serves_adults
        subscriber.updated_at = now
    subscriber.lawful_basis = LawfulBasis.consent.value
    subscriber.consent_source = CONSENT_METHOD
    subscriber.consent_at = now
    subscriber.consent_wording = pending.consent_wording
    session.add(subscriber)
    # The person confirmed from the address itself: an earlier erasure, complaint or bounce no
    # longer stands in the way.
    session.execute(delete(Suppression).where(col(Suppression.address_hash) == hashed))
    session.execute(delete(PendingSignup).where(col(PendingSignup.email) == pending.email))
    session.flush()
    log.info("sign-up confirmed: subscriber %s", subscriber.id)
    return subscriber


def purge_expired_signups(session: Session, *, now: datetime) -> int:
    """Delete pending sign-ups past their expiry; how many."""
    result = session.execute(delete(PendingSignup).where(col(PendingSignup.expires_at) <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


__all__ = (
    "CONFIRM_WITHIN",
    "AgencyChoice",
    "Checked",
    "ConfirmState",
    "SignupRefused",
    "SignupRequest",
    "UnknownDomains",
    "agency_choice",
    "check_token",
    "confirm_signup",
    "consent_wording",
    "purge_expired_signups",
    "request_signup",
)
