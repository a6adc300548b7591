"""Every URL the service puts into a message, in one place.

Per-recipient parts are *placeholders* (see :mod:`newsletter.personalise`): the bulletin is
rendered and CSS-inlined once per agency, and only the placeholders change per recipient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsletter.config import Settings
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.tokens import proof_token

__all__ = ["NAME", "SUBSCRIBER", "TOKEN"]

UTM_SOURCE = "newsletter"
UTM_MEDIUM = "email"


def utm_campaign(month: str) -> str:
    return f"bulletin-{month}"


def with_utm(url: str, *, month: str, agency: str) -> str:
    """``url`` with our UTM parameters (existing query kept; ours replace any of the same name)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [
        ("utm_source", UTM_SOURCE),
        ("utm_medium", UTM_MEDIUM),
        ("utm_campaign", utm_campaign(month)),
        ("utm_content", agency),
    ]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def click_url(settings: Settings, link_id: int, token: str = TOKEN) -> str:
    return f"{settings.public_base_url}/c/{token}/{link_id}"


def open_url(settings: Settings, token: str = TOKEN) -> str:
    return f"{settings.public_base_url}/o/{token}.gif"


def unsubscribe_url(settings: Settings, subscriber_token: str = SUBSCRIBER) -> str:
    return f"{settings.public_base_url}/u/{subscriber_token}"


def preferences_url(settings: Settings, subscriber_token: str = SUBSCRIBER) -> str:
    return f"{settings.public_base_url}/p/{subscriber_token}"


def archive_url(settings: Settings, month: str, agency: str) -> str:
    return f"{settings.public_base_url}/archive/{month}/{agency}"


def preview_url(settings: Settings, proof: str) -> str:
    """The web page of a draft's variant, for whoever holds the (expiring) proof token."""
    return f"{settings.public_base_url}/preview/{proof}"


def new_proof_token(settings: Settings, *, bulletin_id: int, agency: str, now: datetime) -> str:
    """A proof token for ``agency``'s variant, valid for NEWSLETTER_PREVIEW_DAYS from ``now``."""
    expires_at = now + timedelta(days=settings.preview_days)
    return proof_token(settings.secret, bulletin_id, agency, expires_at=expires_at)
