"""The transport seam: how messages leave. Dispatch defines what it needs; transports provide it.

A :class:`Batch` is one bulletin variant's shared content (rendered once, with placeholders from
:mod:`newsletter.personalise`) plus up to ``max_batch`` recipients, each with the values that
fill the placeholders and their own headers (List-Unsubscribe...). SendGrid sends the shared
body once with per-personalization substitutions; local transports fill the placeholders
themselves, one message per recipient.

Exceptions (raised for the *whole* batch; per-recipient outcomes are :class:`RecipientResult`)::

    TransportError                 base; ``retryable`` says whether trying again may help
    ├── RetryableError             throttled, 5xx, connection refused: retry with backoff
    │   └── RateLimited            429; ``reset_at`` says when the provider allows more
    ├── PermanentError             the request itself is wrong (400): retrying won't help
    ├── AuthenticationError        401/403, bad credentials or sender: stop the whole send
    └── OutcomeUnknown             the request may have reached the provider (timeout after
                                   sending): never resend without an operator's decision
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int | None  # None for test copies (--test-to) and notifications
    email: str
    name: str
    values: Mapping[str, str]  # placeholder -> value (raw; transports escape for HTML)
    headers: Mapping[str, str] = field(default_factory=dict)  # List-Unsubscribe, ...
    message_id: str | None = None  # RFC 5322 Message-ID to use (local transports)


@dataclass(frozen=True, slots=True)
class Batch:
    subject: str
    html: str | None  # None for plain-text-only messages (notifications)
    text: str
    recipients: Sequence[Recipient]
    from_address: str
    reply_to: str | None = None
    bulletin_id: int | None = None
    month: str | None = None  # outbox folder; None -> "notifications"
    category: str | None = None  # SendGrid category (one per bulletin)
    headers: Mapping[str, str] = field(default_factory=dict)  # common to every recipient


class Outcome(StrEnum):
    sent = "sent"
    failed = "failed"
    unknown = "unknown"
    # Not accepted this time (SMTP 4xx for one recipient, or not attempted because the
    # connection dropped): nothing left, so dispatch may try that recipient again.
    deferred = "deferred"


@dataclass(frozen=True, slots=True)
class RecipientResult:
    recipient: Recipient
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None


class TransportError(Exception):
    retryable: bool = False

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class RetryableError(TransportError):
    retryable = True


class RateLimited(RetryableError):
    def __init__(self, message: str, *, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class PermanentError(TransportError):
    retryable = False


class AuthenticationError(TransportError):
    retryable = False


class OutcomeUnknown(TransportError):
    retryable = False


class Transport(Protocol):
    name: str
    max_batch: int  # most recipients one send() call takes

    def send(self, batch: Batch) -> list[RecipientResult]:
        """Send one batch; one result per recipient, in order, or raise for the whole batch."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
