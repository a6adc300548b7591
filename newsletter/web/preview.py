"""Preview links: a draft (or any built bulletin) seen through a signed, expiring proof token.

``GET /preview/<proof token>`` shows one agency's variant as the web archive would, with a
notice saying it is a preview and until when the link works. The proof token is the one in a
``--test-to`` copy's links (its "view in browser" points here), so following the proof's links
works and records nothing. A forged, altered or expired token, or a bulletin that no longer
exists, is a 404 that says the link may have expired.

The staff app makes the same links (:func:`newsletter.urls.new_proof_token` and
:func:`newsletter.urls.preview_url`) to show drafts to people who cannot sign in.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sqlmodel import col, select

from newsletter import urls
from newsletter.models import Bulletin, Variant
from newsletter.tokens import ProofRef, parse_token
from newsletter.web.archive import web_copy_html
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.pages import render_page

router = APIRouter()

_HEADERS = {
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def _notice(bulletin: Bulletin, agency: str, until: str) -> str:
    return (
        '<div role="note" style="background:#fff4c2;color:#1b1b1b;border-bottom:3px solid '
        '#1b1b1b;padding:12px 16px;font:16px/1.4 Arial,Helvetica,sans-serif">'
        f"<strong>Preview, not yet sent.</strong> The {escape(bulletin.month)} bulletin "
        f"({escape(bulletin.status)}) as {escape(agency)} staff would receive it. "
        f"Clicks here are not counted. This link works until {escape(until)}.</div>"
    )


@router.get("/preview/{token}", response_class=HTMLResponse)
def preview(
    request: Request, token: str, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """One agency's variant of a built bulletin, for the holder of an unexpired proof token."""
    ref = parse_token(settings.secret, token)
    row = None
    if isinstance(ref, ProofRef) and not ref.expired(clock.now()):
        row = session.exec(
            select(Bulletin, Variant)
            .join(Variant, col(Variant.bulletin_id) == col(Bulletin.id))
            .where(col(Bulletin.id) == ref.bulletin_id, col(Variant.agency) == ref.agency)
        ).first()
    if row is None:
        return render_page(request, "preview_missing.html", status_code=404)
    bulletin, variant = row
    assert isinstance(ref, ProofRef)
    until = ref.expires_at.astimezone(settings.zone).strftime("%A %-d %B %Y, %H:%M")
    html = web_copy_html(settings, variant=variant, token=token)
    # "View in browser" would lead to the archive, where an unsent bulletin is not: stay here.
    html = html.replace(
        urls.archive_url(settings, bulletin.month, variant.agency),
        urls.preview_url(settings, token),
    )
    html, found = _BODY_OPEN.subn(
        lambda m: m.group(0) + _notice(bulletin, variant.agency, until), html, count=1
    )
    if not found:
        html = _notice(bulletin, variant.agency, until) + html
    return HTMLResponse(html, headers=_HEADERS)
