"""How messages leave: ``outbox`` (default), ``smtp``, ``sendgrid``. See :mod:`.base`."""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from newsletter.config import Settings

TRANSPORT_NAMES = ("outbox", "smtp", "sendgrid", "memory")


def make_transport(settings: Settings, name: str | None = None) -> Transport:
    """The transport called ``name`` (default NEWSLETTER_TRANSPORT), configured from settings.

    Raises ValueError with a message fit for an operator when it is unknown or unconfigured.
    """
    chosen = name or settings.transport
    if chosen == "outbox":
        from newsletter.transports.outbox import OutboxTransport

        return OutboxTransport(settings.data_dir / "outbox")
    if chosen == "smtp":
        from newsletter.transports.smtp import SmtpTransport

        if not settings.smtp_url:
            raise ValueError("the smtp transport needs NEWSLETTER_SMTP_URL (smtp://host:port)")
        return SmtpTransport(settings.smtp_url)
    if chosen == "sendgrid":
        from newsletter.transports.sendgrid import SendGridTransport

        if settings.sendgrid_api_key is None:
            raise ValueError("the sendgrid transport needs NEWSLETTER_SENDGRID_API_KEY")
        return SendGridTransport(
            settings.sendgrid_api_key.get_secret_value(),
            host=settings.sendgrid_host,
            timeout=settings.sendgrid_timeout,
        )
    if chosen == "memory":
        from newsletter.transports.memory import MemoryTransport

        return MemoryTransport()
    raise ValueError(f"unknown transport {chosen!r}; choose one of {', '.join(TRANSPORT_NAMES)}")


__all__ = [
    "TRANSPORT_NAMES",
    "AuthenticationError",
    "Batch",
    "Outcome",
    "OutcomeUnknown",
    "PermanentError",
    "RateLimited",
    "Recipient",
    "RecipientResult",
    "RetryableError",
    "Transport",
    "TransportError",
    "make_transport",
]
