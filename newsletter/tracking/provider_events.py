"""SendGrid's Event Webhook: verifying a signed batch and storing its events.

SendGrid posts JSON arrays of events, at least once and in no particular order, retrying any
non-2xx answer for a day. So:

* the signature (ECDSA P-256 over ``timestamp + raw body``, checked by the sendgrid helper) is
  verified before anything is parsed; the raw bytes are used, never re-serialised JSON;
* each event is stored once: ``sg_event_id`` is ``Event.provider_event_id`` (unique) and the
  insert is ``ON CONFLICT DO NOTHING``, so a redelivered batch stores nothing new; an event
  without ``sg_event_id`` is keyed by a digest of its content (:func:`event_key`);
* state changes are monotonic guarded UPDATEs, safe in any order and any number of times:
  a delivery dispatch left ``unknown`` becomes ``sent`` on any event of it (``processed``
  first of all: SendGrid accepted the message); a hard bounce (``bounce`` with ``type``
  ``bounce``) or a spam report marks the subscriber ``bounced``/``complained`` and adds a
  Suppression row; a SendGrid ``unsubscribe`` marks an active subscriber ``unsubscribed``;
* events map to deliveries through our ``custom_args`` (``delivery_id`` and ``bulletin_id``,
  strings); an event matching no delivery, or of a type we do not know, is stored with
  ``delivery_id`` NULL / type ``other`` and its raw payload, and still acknowledged, so
  SendGrid does not retry it for a day;
* opens SendGrid flags ``sg_machine_open`` (Apple Mail Privacy Protection) are stored as
  machine activity, and opens and clicks go through the same user-agent rules as our own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.config import TrackingMode
from newsletter.eventlog import insert_event_once, note_changed
from newsletter.models import (
    Bulletin,
    Delivery,
    DeliveryStatus,
    EventSource,
    EventType,
    Subscriber,
    SubscriberStatus,
)
from newsletter.subscribers.addresses import AddressError, normalise_email
from newsletter.subscribers.changes import stop_sending, suppress, unsubscribed_at_provider
from newsletter.tokens import address_hash
from newsletter.tracking.rules import RULES_VERSION, Reason, agent_reason, is_apple_proxy

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


_TYPES: dict[str, EventType] = {
    "processed": EventType.processed,
    "delivered": EventType.delivered,
    "deferred": EventType.deferred,
    "dropped": EventType.dropped,
    "bounce": EventType.bounce,
    "spamreport": EventType.complaint,
    "open": EventType.open,
    "click": EventType.click,
    "unsubscribe": EventType.unsubscribe,
    "group_unsubscribe": EventType.unsubscribe,
}
# Engagement: in agency tracking mode these keep no link to the delivery (and so the person).
_ENGAGEMENT = {EventType.open, EventType.click}


class MalformedEvents(ValueError):
    """The body is not a JSON array of event objects."""


@dataclass(frozen=True, slots=True)
class StoreResult:
    received: int
    stored: int  # new rows (the rest were duplicates)
    unmatched: int  # stored with no delivery
    suppressed: int  # subscribers suppressed by hard bounces and spam reports


@lru_cache(maxsize=4)
def _verifier(public_key: str) -> EventWebhook:
    return EventWebhook(public_key)


def verify_signature(
    public_key: str, *, payload: bytes, signature: str | None, timestamp: str | None
) -> bool:
    """Whether ``signature`` signs ``timestamp + payload`` with ``public_key`` (base64 DER).

    Never raises: a missing header, malformed base64, a bad key or a non-UTF-8 body is False.
    """
    if not signature or not timestamp:
        return False
    try:
        return bool(_verifier(public_key).verify_signature(payload.decode(), signature, timestamp))
    except Exception as exc:  # binascii.Error, ValueError from a bad key, UnicodeDecodeError
        log.info("webhook signature check failed: %s", exc.__class__.__name__)
        return False


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def parse_events(raw: bytes) -> list[dict[str, Any]]:
    """The events of a webhook body; :class:`MalformedEvents` unless a JSON array of objects."""
    try:
        # NaN, Infinity and numbers too large for a float are not JSON (RFC 8259), though
        # Python's parser takes them; a database's JSON column refuses them at insert time.
        data = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvents(f"not JSON: {exc}") from exc
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedEvents("expected a JSON array of event objects")
    return data


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _when(value: object, fallback: datetime) -> datetime:
    stamp = _int(value) if not isinstance(value, float) else int(value)
    if stamp is None:
        return fallback
    try:
        return datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, OSError, ValueError):
        return fallback


def _normalise(email: str) -> str:
    """The address as the subscriber list keys it (so its hash matches an import's)."""
    try:
        return normalise_email(email)
    except AddressError:
        return email.strip().lower()


def _str(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


CONTENT_KEY_PREFIX = "content:"


def event_key(event: dict[str, Any]) -> str:
    """The event's de-duplication key: SendGrid's ``sg_event_id`` when it has one; otherwise a
    digest of the whole event (keys sorted), so a batch re-posted without ids is stored once.

    The trade-off: two events without ids that are identical in every field (same type,
    address, timestamp to the second, user agent...) count once. SendGrid gives every real
    event an id; only hand-made or replayed posts lack one.
    """
    given = event.get("sg_event_id")
    if isinstance(given, str) and given.strip():
        return given[:100]
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return CONTENT_KEY_PREFIX + digest


class _Batch:
    def __init__(
        self,
        session: Session,
        *,
        mode: TrackingMode,
        now: datetime,
        source: EventSource = EventSource.sendgrid,
    ) -> None:
        self.session = session
        self.mode = mode
        self.now = now
        self.source = source
        self.stored = 0
        self.unmatched = 0
        self.suppressed = 0
        self._deliveries: dict[int, Delivery | None] = {}
        self._confirmed: set[int | None] = set()

    def prefetch(self, events: list[dict[str, Any]]) -> None:
        """Load the batch's deliveries in a few queries rather than one per event."""
        wanted = sorted({i for e in events if (i := _int(e.get("delivery_id"))) is not None})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found = self.session.exec(select(Delivery).where(col(Delivery.id).in_(chunk))).all()
            self._deliveries.update({i: None for i in chunk})
            self._deliveries.update({d.id: d for d in found if d.id is not None})

    def delivery(self, event: dict[str, Any]) -> Delivery | None:
        delivery_id = _int(event.get("delivery_id"))
        if delivery_id is None:
            return None
        if delivery_id not in self._deliveries:
            self._deliveries[delivery_id] = self.session.get(Delivery, delivery_id)
        delivery = self._deliveries[delivery_id]
        bulletin_id = _int(event.get("bulletin_id"))
        if delivery is not None and bulletin_id is not None and bulletin_id != delivery.bulletin_id:
            return None  # custom_args that disagree with our ledger: trust neither
        return delivery

    def store(self, event: dict[str, Any]) -> None:
        name = event.get("event")
        kind = _TYPES.get(name) if isinstance(name, str) else None
        delivery = self.delivery(event)
        occurred = _when(event.get("timestamp"), self.now)
        bulletin_id = delivery.bulletin_id if delivery is not None else None
        if bulletin_id is None:
            candidate = _int(event.get("bulletin_id"))
            if candidate is not None and self.session.get(Bulletin, candidate) is not None:
                bulletin_id = candidate
        machine, reason = self.judge(kind, event)
        since = None
        if delivery is not None and delivery.sent_at is not None:
            since = round((occurred - delivery.sent_at).total_seconds(), 3)
        keep_delivery = delivery is not None and not (
            self.mode != "individual" and kind in _ENGAGEMENT
        )
        values: dict[str, Any] = {
            "delivery_id": delivery.id if keep_delivery and delivery is not None else None,
            "bulletin_id": bulletin_id,
            "agency": delivery.agency if delivery is not None else None,
            "link_id": None,
            "type": str(kind or EventType.other),
            "occurred_at": occurred,
            "recorded_at": self.now,
            "source": str(self.source),
            "machine": machine,
            "machine_reason": reason,
            "rules_version": RULES_VERSION if kind in _ENGAGEMENT else None,
            "seconds_since_delivery": since,
            "method": None,
            "user_agent": _str(event.get("useragent"), 500),
            "provider_event_id": event_key(event),
            # The raw event, for whoever inspects what matched nothing or is of a new type.
            "payload": event if delivery is None or kind is None else None,
        }
        if not insert_event_once(self.session, values):
            return  # a duplicate: its effects were applied when it first arrived
        self.stored += 1
        if delivery is None:
            self.unmatched += 1
            if kind in {EventType.bounce, EventType.complaint}:
                self.effects(kind, event, None)
            return
        self.confirm_sent(delivery, occurred)
        if kind is not None:
            self.effects(kind, event, delivery)

    def judge(self, kind: EventType | None, event: dict[str, Any]) -> tuple[bool, str | None]:
        if kind not in _ENGAGEMENT:
            return False, None
        if kind == EventType.open and event.get("sg_machine_open") is True:
            return True, str(Reason.sg_machine_open)
        agent = _str(event.get("useragent"), 500)
        by_agent = agent_reason(agent) if agent is not None else None
        if by_agent is not None:
            return True, str(by_agent)
        if kind == EventType.open and is_apple_proxy(agent, _str(event.get("ip"), 64)):
            return True, str(Reason.apple_mpp)
        return False, None

    def confirm_sent(self, delivery: Delivery, occurred: datetime) -> None:
        # Any event of a delivery proves SendGrid accepted it: an "unknown" send was sent.
        # (The guarded UPDATE is the truth; the checks only spare a batch needless queries.)
        if delivery.status != DeliveryStatus.unknown or delivery.id in self._confirmed:
            return
        self._confirmed.add(delivery.id)
        # The bulletin's sent count moves (the cache recounts sent rows on every refresh).
        note_changed(self.session, [delivery.bulletin_id], rewritten=False)
        self.session.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery.id)
            .where(col(Delivery.status) == DeliveryStatus.unknown)
            .values(status=DeliveryStatus.sent, sent_at=occurred)
        )

    def effects(self, kind: EventType, event: dict[str, Any], delivery: Delivery | None) -> None:
        hard_bounce = kind == EventType.bounce and event.get("type", "bounce") == "bounce"
        if hard_bounce:
            self.suppress(event, delivery, SubscriberStatus.bounced, reason="bounce")
        elif kind == EventType.complaint:
            self.suppress(event, delivery, SubscriberStatus.complained, reason="complaint")
        elif (
            kind == EventType.unsubscribe
            and delivery is not None
            and delivery.subscriber_id is not None
            and (subscriber := self.session.get(Subscriber, delivery.subscriber_id)) is not None
        ):
            unsubscribed_at_provider(self.session, subscriber, now=self.now)

    def subscriber(self, event: dict[str, Any], delivery: Delivery | None) -> Subscriber | None:
        if delivery is not None and delivery.subscriber_id is not None:
            return self.session.get(Subscriber, delivery.subscriber_id)
        email = _str(event.get("email"), 320)
        if not email:
            return None
        return self.session.exec(
            select(Subscriber).where(
                col(Subscriber.address_hash) == address_hash(_normalise(email))
            )
        ).first()

    def suppress(
        self,
        event: dict[str, Any],
        delivery: Delivery | None,
        status: SubscriberStatus,
        *,
        reason: str,
    ) -> None:
        """Never mail this address again: the suppression list, then the subscriber's status
        (both through newsletter.subscribers, so webhook and CLI agree on what that means)."""
        subscriber = self.subscriber(event, delivery)
        digest = subscriber.address_hash if subscriber is not None else None
        email = _str(event.get("email"), 320)
        if digest is None and email:
            digest = address_hash(_normalise(email))
        if digest is not None:
            suppress(self.session, digest, reason=reason)
        if subscriber is not None and stop_sending(
            self.session, subscriber, status=status, now=self.now
        ):
            self.suppressed += 1


def store_events(
    session: Session,
    events: list[dict[str, Any]],
    *,
    mode: TrackingMode,
    now: datetime,
    source: EventSource = EventSource.sendgrid,
) -> StoreResult:
    """Store a verified batch in ``session`` (the caller commits). Safe to repeat.

    ``source`` says where the events came from: SendGrid's webhook, or the bounce mailbox,
    whose delivery reports are handed over in the same shape so both have one set of effects.
    """
    batch = _Batch(session, mode=mode, now=now, source=source)
    batch.prefetch(events)
    for event in events:
        batch.store(event)
    return StoreResult(
        received=len(events),
        stored=batch.stored,
        unmatched=batch.unmatched,
        suppressed=batch.suppressed,
    )
