"""The web archive: every bulletin that was sent, each agency's variant as its readers got it.

Only a bulletin at least one message of which was actually sent is published (see
:func:`published`); a draft, an approved bulletin waiting for its slot, or one that never went
out is a 404 here, and is seen only through a signed, expiring preview link
(:mod:`newsletter.web.preview`) or by staff.

A web copy is shared by everyone who opens it, so it carries no personal data: links are
tracked with the agency's token (clicks count for the agency, never a person), the open pixel
is taken out (viewing a web page is not opening an email), the greeting is generic, and the
footer's personal unsubscribe and preference links point at a page explaining how to manage a
subscription instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement, exists
from sqlmodel import col, select

from newsletter import urls
from newsletter.config import Settings
from newsletter.models import Agency, Bulletin, Delivery, DeliveryStatus, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.plan import is_key
from newsletter.tokens import agency_token
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render_page

router = APIRouter()

ARCHIVE_NAME = "colleague"  # "Hello colleague," in a copy anyone may read
SUBSCRIPTION_HELP_PATH = "/archive/subscription"
_HEADERS = {"X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
# A bulletin's web copy is the email: inlined styles and images from wherever the email loads
# them (the logo, course pictures), no script at all; the staff app may frame it as a preview.
_EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@dataclass(frozen=True)
class ArchiveEntry:
    month: str
    theme: str
    status: str
    agencies: list[tuple[str, str]]  # (slug, name) in agency order


def published() -> ColumnElement[bool]:
    """Bulletins that reached people: at least one delivery sent (test copies have none)."""
    return exists(
        select(Delivery.id).where(
            col(Delivery.bulletin_id) == col(Bulletin.id),
            col(Delivery.status) == DeliveryStatus.sent,
        )
    )


def archive_html(settings: Settings, *, bulletin_id: int, variant: Variant) -> str:
    """``variant``'s HTML made safe to publish (see the module docstring)."""
    return web_copy_html(
        settings, variant=variant, token=agency_token(settings.secret, bulletin_id, variant.agency)
    )


def web_copy_html(settings: Settings, *, variant: Variant, token: str) -> str:
    """``variant``'s HTML without personal data, its links carrying ``token``."""
    body = re.sub(
        r"<img\b[^>]*\bsrc=\"" + re.escape(urls.open_url(settings)) + r"\"[^>]*>", "", variant.html
    )
    help_url = f"{settings.public_base_url}{SUBSCRIPTION_HELP_PATH}"
    body = body.replace(urls.unsubscribe_url(settings), help_url)
    body = body.replace(urls.preferences_url(settings), help_url)
    values = {
        TOKEN: token,
        SUBSCRIBER: "",  # none left after the replacements above
        NAME: ARCHIVE_NAME,
    }
    return personalise(body, html_values(values))


def _not_found(request: Request, what: str) -> HTMLResponse:
    return render_page(request, "archive_missing.html", status_code=404, what=what)


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: SessionDep) -> HTMLResponse:
    """Every sent bulletin, newest first, with a link to each agency's variant."""
    rows = session.exec(
        select(Bulletin, Variant.agency, Agency.name)
        .join(Variant, col(Variant.bulletin_id) == col(Bulletin.id))
        .join(Agency, col(Agency.slug) == col(Variant.agency))
        .where(published())
        .order_by(col(Bulletin.month).desc(), col(Agency.position), col(Agency.slug))
    ).all()
    entries: dict[str, ArchiveEntry] = {}
    for bulletin, slug, name in rows:
        entry = entries.setdefault(
            bulletin.month, ArchiveEntry(bulletin.month, bulletin.theme, bulletin.status, [])
        )
        entry.agencies.append((slug, name))
    return render_page(request, "archive_index.html", entries=list(entries.values()))


@router.get("/archive/subscription", response_class=HTMLResponse)
def subscription_help(request: Request, settings: SettingsDep) -> HTMLResponse:
    """How to unsubscribe or change preferences (the web copy's footer links here)."""
    return render_page(request, "archive_subscription.html", from_address=settings.from_address)


@router.get("/archive/{month}/{agency}", response_class=HTMLResponse)
def archive_variant(
    request: Request, month: str, agency: str, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """One agency's variant of one month's sent bulletin, without personal data."""
    if not is_key(month):  # a month, or an extra edition of one
        return _not_found(request, f"{month}/{agency}")
    row = session.exec(
        select(Bulletin, Variant)
        .join(Variant, col(Variant.bulletin_id) == col(Bulletin.id))
        .where(col(Bulletin.month) == month, col(Variant.agency) == agency, published())
    ).first()
    if row is None:
        return _not_found(request, f"{month}/{agency}")
    bulletin, variant = row
    assert bulletin.id is not None
    html = with_signup_link(archive_html(settings, bulletin_id=bulletin.id, variant=variant))
    return HTMLResponse(
        html,
        headers={**_HEADERS, "Cache-Control": "no-cache", "Content-Security-Policy": _EMAIL_CSP},
    )


_BODY_TAG = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
SIGNUP_BAR = (
    '<p style="margin:0;padding:8px 12px;background:#f3f2f1;color:#0b0c0c;'
    'font-family:Arial,Helvetica,sans-serif;font-size:16px;text-align:center">'
    'Not getting this bulletin yet? <a href="/subscribe" style="color:#1d4f91">'
    "Sign up for the learning bulletin</a></p>"
)


def with_signup_link(html: str) -> str:
    """The archived bulletin with a sign-up link above it, for readers who are not subscribed."""
    match = _BODY_TAG.search(html)
    if match is None:
        return SIGNUP_BAR + html
    return html[: match.end()] + SIGNUP_BAR + html[match.end() :]
