"""Delivery status notifications (RFC 3464): what a bounce message says happened, per recipient.

A DSN is a ``multipart/report; report-type=delivery-status`` message whose
``message/delivery-status`` part holds one block of per-message fields and then one block per
recipient (``Final-Recipient``, ``Action``, ``Status``, ``Diagnostic-Code``...). Most also
return the original message or its headers (``message/rfc822`` or ``text/rfc822-headers``),
whose ``Message-ID`` names the delivery it is about.

* A **hard bounce** is ``Action: failed`` with a permanent ``Status`` (5.x.x, RFC 3463).
* ``failed`` with a transient status (4.x.x) is a soft bounce; ``delayed``, ``delivered``,
  ``relayed`` and ``expanded`` are not bounces at all.
* Anything that is not a DSN (an out-of-office reply, a person writing back) gives None.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    address: str  # the Final-Recipient (else Original-Recipient) address, as written
    action: str  # failed, delayed, delivered, relayed, expanded (lower case)
    status: str  # e.g. 5.1.1; "" when missing
    diagnostic: str  # Diagnostic-Code, e.g. "smtp; 550 5.1.1 user unknown"

    @property
    def failed(self) -> bool:
        return self.action == "failed"

    @property
    def permanent(self) -> bool:
        """A hard bounce: failed, with a permanent (5.x.x) status or none at all."""
        return self.failed and not self.status.startswith("4")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """One DSN: who it was about and what happened to each recipient."""

    report_id: str  # a stable id of this DSN (its Message-ID, else a hash of its bytes)
    original_message_id: str | None  # Message-ID of the message that bounced, if returned
    arrived: datetime | None  # the DSN's Date header
    recipients: tuple[RecipientStatus, ...]


def _value(block: Message, name: str) -> str:
    raw = block.get(name)
    return " ".join(str(raw).split()) if raw is not None else ""


def _address(field: str) -> str:
    """``rfc822; jo@x.org`` -> ``jo@x.org`` (the address type is optional in practice)."""
    _kind, sep, address = field.partition(";")
    return (address if sep else field).strip().strip("<>").strip()


def _original_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found = inner[0].get("Message-ID")
                if found:
                    return str(found).strip()
        elif kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = email.message_from_bytes(payload, policy=email.policy.compat32)
                found = headers.get("Message-ID")
                if found:
                    return str(found).strip()
    return None


def parse_dsn(raw: bytes) -> DeliveryReport | None:
    """The delivery report in ``raw`` (a whole message), or None when it is not a DSN."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        return None
    if str(message.get_param("report-type", "")).lower() != "delivery-status":
        return None
    blocks: list[Message] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks = [b for b in payload if isinstance(b, Message)]
            break
    recipients = []
    for block in blocks[1:]:  # the first block is about the message, the rest per recipient
        address = _address(_value(block, "Final-Recipient") or _value(block, "Original-Recipient"))
        action = _value(block, "Action").lower()
        if not address or not action:
            continue
        status = _value(block, "Status").split(" ")[0]
        recipients.append(
            RecipientStatus(
                address=address[:320],
                action=action,
                status=status[:20],
                diagnostic=_value(block, "Diagnostic-Code")[:500],
            )
        )
    if not recipients:
        return None
    own_id = message.get("Message-ID")
    report_id = str(own_id).strip() if own_id else hashlib.sha256(raw).hexdigest()
    arrived = None
    date = message.get("Date")
    if date:
        try:
            arrived = parsedate_to_datetime(str(date))
        except (TypeError, ValueError):
            arrived = None
        if arrived is not None and arrived.tzinfo is None:
            arrived = None
    return DeliveryReport(
        report_id=report_id,
        original_message_id=_original_message_id(message),
        arrived=arrived,
        recipients=tuple(recipients),
    )
