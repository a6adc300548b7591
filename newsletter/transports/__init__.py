"""How messages leave: ``outbox`` (default), ``smtp``, ``sendgrid``. See :mod:`.base`."""

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

__all__ = [
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
]
