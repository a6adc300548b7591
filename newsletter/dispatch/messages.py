"""What one recipient's message carries besides the shared body: placeholder values and headers.

The body of a variant is rendered once (with placeholders); here we only compute the few
per-recipient strings: the signed tracking token, the subscriber's own token, the name, the
RFC 2369 / RFC 8058 unsubscribe headers and a unique Message-ID.
"""

from __future__ import annotations

import functools
import secrets
from email.utils import parseaddr

from newsletter.config import Settings
from newsletter.models import Bulletin, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.tokens import agency_token, delivery_token
from newsletter.transports.base import Batch, Recipient
from newsletter.urls import unsubscribe_url

ONE_CLICK = "List-Unsubscribe=One-Click"


def sender_domain(settings: Settings) -> str:
    """The domain of the From address (Message-IDs are made under it)."""
    _, address = parseaddr(settings.from_address)
    return address.rpartition("@")[2] or "localhost"


def unsubscribe_mailbox(settings: Settings) -> str:
    """The address a mailto: unsubscribe goes to: UNSUBSCRIBE_MAILTO, else the From address."""
    return _mailbox(settings.unsubscribe_mailto, settings.from_address)


@functools.lru_cache(maxsize=16)
def _mailbox(override: str | None, from_address: str) -> str:
    # Called for every recipient; parsing the From address once per send is enough.
    return override or parseaddr(from_address)[1]


def unsubscribe_headers(settings: Settings, subscriber_token: str) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe (mailto first, then our one-click HTTPS URL) and RFC 8058 Post."""
    mailto = f"mailto:{unsubscribe_mailbox(settings)}?subject=unsubscribe"
    return {
        "List-Unsubscribe": f"<{mailto}>, <{unsubscribe_url(settings, subscriber_token)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }


def message_id(domain: str, delivery_id: int | None) -> str:
    """A unique RFC 5322 Message-ID; a resend (``--retry-unknown``) gets a new one."""
    ref = f"d{delivery_id}" if delivery_id is not None else "test"
    return f"<nl.{ref}.{secrets.token_hex(8)}@{domain}>"


def tracking_token(settings: Settings, *, delivery_id: int, bulletin_id: int, agency: str) -> str:
    """The token in the recipient's tracking links: per delivery, or per agency when tracking
    is anonymised (``agency``) or switched off (links then only identify the variant)."""
    if settings.tracking == "individual":
        return delivery_token(settings.secret, delivery_id)
    return agency_token(settings.secret, bulletin_id, agency)


def recipient(
    settings: Settings,
    *,
    delivery_id: int,
    bulletin_id: int,
    agency: str,
    email: str,
    name: str,
    subscriber_token: str,
    domain: str,
) -> Recipient:
    return Recipient(
        delivery_id=delivery_id,
        email=email,
        name=name,
        values={
            TOKEN: tracking_token(
                settings, delivery_id=delivery_id, bulletin_id=bulletin_id, agency=agency
            ),
            SUBSCRIBER: subscriber_token,
            NAME: name,
        },
        headers=unsubscribe_headers(settings, subscriber_token),
        message_id=message_id(domain, delivery_id),
    )


def variant_batch(
    settings: Settings,
    bulletin: Bulletin,
    variant: Variant,
    recipients: list[Recipient],
    *,
    subject_prefix: str = "",
) -> Batch:
    """One variant's shared content addressed to ``recipients``."""
    return Batch(
        subject=f"{subject_prefix}{variant.subject}",
        html=variant.html,
        text=variant.text,
        recipients=recipients,
        from_address=settings.from_address,
        reply_to=settings.reply_to,
        bulletin_id=bulletin.id,
        month=bulletin.month,
        category=f"bulletin-{bulletin.month}",
    )
