"""How messages leave: ``outbox`` (default), ``smtp``, ``sendgrid``. See :mod:`.base`."""

from __future__ import annotations

from newsletter.config import Settings
from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    Recipient,
    RecipientResult,
    RetryableError,
    Transport,
    TransportError,
)
from newsletter.transports.memory import MemoryTransport
from newsletter.transports.outbox import OutboxTransport
from newsletter.transports.sendgrid import SendGridTransport
from newsletter.transports.smtp import SmtpTransport

TRANSPORT_NAMES = ("outbox", "smtp", "sendgrid", "memory")


def make_transport(settings: Settings, name: str | None = None) -> Transport:
    """The transport called ``name`` (default NEWSLETTER_TRANSPORT), configured from settings.

    Raises ValueError with a message fit for an operator when it is unknown or unconfigured.
    """
    chosen = name or settings.transport
    if chosen == "outbox":
        return OutboxTransport(settings.data_dir / "outbox")
    if chosen == "smtp":
        if not settings.smtp_url:
            raise ValueError("the smtp transport needs NEWSLETTER_SMTP_URL (smtp://host:port)")
        return SmtpTransport(settings.smtp_url)
    if chosen == "sendgrid":
        if settings.sendgrid_api_key is None:
            raise ValueError("the sendgrid transport needs NEWSLETTER_SENDGRID_API_KEY")
        return SendGridTransport(
            settings.sendgrid_api_key.get_secret_value(),
            host=settings.sendgrid_host,
            timeout=settings.sendgrid_timeout,
        )
    if chosen == "memory":
        return MemoryTransport()
    raise ValueError(f"unknown transport {chosen!r}; choose one of {', '.join(TRANSPORT_NAMES)}")


__all__ = [
    "TRANSPORT_NAMES",
    "AuthenticationError",
    "Batch",
    "MemoryTransport",
    "OutboxTransport",
    "Outcome",
    "OutcomeUnknown",
    "PermanentError",
    "RateLimited",
    "Recipient",
    "RecipientResult",
    "RetryableError",
    "SendGridTransport",
    "SmtpTransport",
    "Transport",
    "TransportError",
    "make_transport",
]
