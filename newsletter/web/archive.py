"""The web archive: every built bulletin, each agency's variant as its readers got it.

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
from sqlmodel import col, select

from newsletter import urls
from newsletter.config import Settings
from newsletter.models import Agency, Bulletin, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.tokens import agency_token
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render_page

router = APIRouter()

ARCHIVE_NAME = "colleague"  # "Hello colleague," in a copy anyone may read
SUBSCRIPTION_HELP_PATH = "/archive/subscription"
_MONTH = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
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


def archive_html(settings: Settings, *, bulletin_id: int, variant: Variant) -> str:
    """``variant``'s HTML made safe to publish (see the module docstring)."""
    body = re.sub(
        r"<img\b[^>]*\bsrc=\"" + re.escape(urls.open_url(settings)) + r"\"[^>]*>", "", variant.html
    )
    help_url = f"{settings.public_base_url}{SUBSCRIPTION_HELP_PATH}"
    body = body.replace(urls.unsubscribe_url(settings), help_url)
    body = body.replace(urls.preferences_url(settings), help_url)
    values = {
        TOKEN: agency_token(settings.secret, bulletin_id, variant.agency),
        SUBSCRIBER: "",  # none left after the replacements above
        NAME: ARCHIVE_NAME,
    }
    return personalise(body, html_values(values))


def _not_found(request: Request, what: str) -> HTMLResponse:
    return render_page(request, "archive_missing.html", status_code=404, what=what)


@router.get("/archive", response_class=HTMLResponse)
def archive_index(request: Request, session: SessionDep) -> HTMLResponse:
    """Every built bulletin, newest first, with a link to each agency's variant."""
    rows = session.exec(
        select(Bulletin, Variant.agency, Agency.name)
        .join(Variant, col(Variant.bulletin_id) == col(Bulletin.id))
        .join(Agency, col(Agency.slug) == col(Variant.agency))
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
    """One agency's variant of one month's bulletin, without personal data."""
    if not _MONTH.match(month):
        return _not_found(request, f"{month}/{agency}")
    row = session.exec(
        select(Bulletin, Variant)
        .join(Variant, col(Variant.bulletin_id) == col(Bulletin.id))
        .where(col(Bulletin.month) == month, col(Variant.agency) == agency)
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
