"""The bounce mailbox: delivery status notifications read over IMAP when sending over SMTP.

With NEWSLETTER_TRANSPORT=smtp, bounces come back as email to the envelope sender. Point
NEWSLETTER_BOUNCE_MAILBOX at that mailbox (``imaps://user:password@host[:port]/FOLDER`` or
``imap://...``, STARTTLS when offered, ``?starttls=yes`` to require it, ``no`` to skip it;
the folder defaults to INBOX) and the scheduler reads it every NEWSLETTER_BOUNCE_CHECK_SECONDS.

What one read does (:func:`read_bounces`):

* fetch the unseen messages (``BODY.PEEK[]``: reading does not mark them), at most
  ``limit`` a run;
* parse each as an RFC 3464 report (:mod:`.dsn`); match it to our delivery by the returned
  ``Message-ID``, which the SMTP transport stores as the delivery's provider message id and
  which carries a random part: a forged report naming someone's address but not a message we
  sent them suppresses nobody;
* hand each failed recipient to :func:`store_events` as a bounce (``type`` ``bounce`` for a
  permanent failure, ``blocked`` for a transient one), so a hard bounce suppresses the address
  and marks the subscriber ``bounced`` exactly as SendGrid's webhook does; the event id is
  derived from the report and the recipient, so a report read twice is stored once;
* commit, and only then flag the messages ``\\Seen`` (a crash in between reads them again,
  harmlessly). Messages that are not delivery reports, or match none of our deliveries, are
  flagged seen too and left in the mailbox for a person to read.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.activity import SCHEDULER, record
from newsletter.config import TrackingMode
from newsletter.models import Delivery, EventSource
from newsletter.tracking.dsn import DeliveryReport, parse_dsn
from newsletter.tracking.provider_events import store_events

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 500  # messages per read; the next read takes the rest
_TRUE, _FALSE = {"yes", "true", "1"}, {"no", "false", "0"}


class MailboxError(RuntimeError):
    """The mailbox cannot be reached or read; the message says what to check."""


@dataclass(frozen=True)
class MailboxAddress:
    tls: bool
    host: str
    port: int
    username: str
    password: str
    folder: str
    starttls: bool | None  # None: when offered

    @classmethod
    def parse(cls, url: str) -> MailboxAddress:
        parts = urlsplit(url)
        if parts.scheme not in {"imap", "imaps"} or not parts.hostname or not parts.username:
            raise MailboxError(
                "NEWSLETTER_BOUNCE_MAILBOX must be imaps://user:password@host[:port]/FOLDER "
                "or imap://..."
            )
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        if starttls and starttls not in _TRUE | _FALSE:
            raise MailboxError(f"starttls must be yes or no, not {starttls!r}")
        tls = parts.scheme == "imaps"
        return cls(
            tls=tls,
            host=parts.hostname,
            port=parts.port or (993 if tls else 143),
            username=unquote(parts.username),
            password=unquote(parts.password or ""),
            folder=unquote(parts.path.lstrip("/")) or "INBOX",
            starttls=None if not starttls else starttls in _TRUE,
        )


@dataclass
class BounceReadReport:
    """What one read of the mailbox found."""

    messages: int = 0
    reports: int = 0  # delivery status notifications among them
    hard_bounces: int = 0
    soft_bounces: int = 0
    unmatched: int = 0  # reports about no delivery of ours (left for a person)
    not_reports: int = 0  # other mail (auto-replies, people writing back)
    stored: int = 0  # new events
    suppressed: int = 0  # subscribers newly marked bounced
    notes: list[str] = field(default_factory=list)


@contextmanager
def _connect(address: MailboxAddress, *, timeout: float) -> Iterator[imaplib.IMAP4]:
    context = ssl.create_default_context()
    try:
        conn: imaplib.IMAP4
        if address.tls:
            conn = imaplib.IMAP4_SSL(
                address.host, address.port, ssl_context=context, timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(address.host, address.port, timeout=timeout)
            if address.starttls is not False:
                if "STARTTLS" in conn.capabilities:
                    conn.starttls(ssl_context=context)
                elif address.starttls:
                    conn.shutdown()
                    raise MailboxError(
                        f"{address.host}:{address.port} does not offer STARTTLS (starttls=yes)"
                    )
        conn.login(address.username, address.password)
    except imaplib.IMAP4.error as exc:
        raise MailboxError(f"IMAP login to {address.host} refused: {exc}") from exc
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"cannot connect to IMAP {address.host}:{address.port}: {exc}") from exc
    try:
        yield conn
    finally:
        with suppress(imaplib.IMAP4.error, OSError):
            conn.logout()


def _ok(result: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = result
    if status != "OK":
        raise MailboxError(f"IMAP {what} failed: {data!r}")
    return data


def _fetch(conn: imaplib.IMAP4, uid: bytes) -> bytes | None:
    data = _ok(conn.uid("FETCH", uid.decode(), "(BODY.PEEK[])"), "FETCH")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _events(
    session: Session, report: DeliveryReport, result: BounceReadReport
) -> list[dict[str, Any]]:
    """The report's failed recipients as webhook-shaped bounce events, if it is about us."""
    failed = [r for r in report.recipients if r.failed]
    if not failed:
        return []
    delivery = None
    if report.original_message_id:
        delivery = session.exec(
            select(Delivery).where(
                col(Delivery.provider_message_id) == report.original_message_id[:200]
            )
        ).first()
    if delivery is None:
        result.unmatched += 1
        return []
    events = []
    for recipient in failed:
        if recipient.permanent:
            result.hard_bounces += 1
        else:
            result.soft_bounces += 1
        key = f"{report.report_id}|{recipient.address.lower()}"
        events.append(
            {
                "event": "bounce",
                "type": "bounce" if recipient.permanent else "blocked",
                "email": recipient.address,
                "status": recipient.status,
                "reason": recipient.diagnostic,
                "timestamp": int(report.arrived.timestamp()) if report.arrived else None,
                "delivery_id": str(delivery.id),
                "bulletin_id": str(delivery.bulletin_id),
                "sg_event_id": "dsn-" + hashlib.sha256(key.encode()).hexdigest()[:60],
            }
        )
    return events


def read_bounces(
    engine: Engine,
    url: str,
    *,
    now: datetime,
    mode: TrackingMode,
    limit: int = DEFAULT_LIMIT,
    timeout: float = 30.0,
) -> BounceReadReport:
    """Read the bounce mailbox at ``url`` once (see the module docstring).

    Raises MailboxError when the mailbox cannot be reached, logged in to or read; nothing is
    stored then.
    """
    address = MailboxAddress.parse(url)
    result = BounceReadReport()
    with _connect(address, timeout=timeout) as conn:
        _ok(conn.select(_quoted(address.folder)), f"SELECT {address.folder}")
        found = _ok(conn.uid("SEARCH", "UNSEEN"), "SEARCH")
        uids = (found[0] or b"").split()[:limit] if found else []
        if not uids:
            return result
        events: list[dict[str, Any]] = []
        with Session(engine, expire_on_commit=False) as session:
            for uid in uids:
                raw = _fetch(conn, uid)
                result.messages += 1
                report = parse_dsn(raw) if raw is not None else None
                if report is None:
                    result.not_reports += 1
                    continue
                result.reports += 1
                events += _events(session, report, result)
            if events:
                stored = store_events(
                    session, events, mode=mode, now=now, source=EventSource.mailbox
                )
                result.stored, result.suppressed = stored.stored, stored.suppressed
            if result.suppressed:
                record(
                    session,
                    actor=SCHEDULER,
                    action="subscriber.bounced",
                    object="bounce-mailbox",
                    detail=f"{result.suppressed} subscriber(s) suppressed by hard bounces",
                )
            session.commit()
        _ok(conn.uid("STORE", b",".join(uids).decode(), "+FLAGS", "(\\Seen)"), "STORE")
    log.info(
        "bounce mailbox: %d messages, %d reports, %d hard and %d soft bounces, %d unmatched, "
        "%d subscribers suppressed",
        result.messages,
        result.reports,
        result.hard_bounces,
        result.soft_bounces,
        result.unmatched,
        result.suppressed,
    )
    return result


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ("BounceReadReport", "MailboxAddress", "MailboxError", "read_bounces")
