"""Rendering staff pages: the layout's context, the navigation, Post/Redirect/Get, dates.

:func:`render` fills in what the layout (``templates/staff/layout.html``) needs: the signed-in
person, the navigation (only pages that exist and that the person may use), the CSRF token for
forms, a one-off notification banner left by :func:`flash`, and the staff pages' own
Content-Security-Policy (no inline script or style: everything comes from /static/).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from newsletter.models import Role
from newsletter.plan import key_label
from newsletter.web.pages import render_template
from newsletter.web.staff import sessions
from newsletter.web.staff.auth import Staff

# Staff pages load nothing from anywhere else and run no inline code; they may frame our own
# previews (frame-src 'self') but are never framed themselves.
STAFF_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

# (label, path, roles allowed to see it; None: everyone signed in). An item appears once a GET
# route of a staff router (ROUTERS in web/staff/__init__.py) exists at its path.
NAV: list[tuple[str, str, tuple[Role, ...] | None]] = [
    ("Dashboard", "/admin/", None),
    ("Calendar", "/admin/calendar", None),
    ("Plan", "/admin/plan", None),
    ("Catalogue", "/admin/catalogue", None),
    ("Bulletins", "/admin/bulletins", None),
    ("Subscribers", "/admin/subscribers", (Role.admin,)),
    ("Reports", "/admin/reports", None),
    ("Users", "/admin/users", (Role.admin,)),
    ("Activity", "/admin/activity", (Role.admin,)),
]


def _get_paths(request: Request) -> set[str]:
    paths: set[str] = getattr(request.app.state, "staff_get_paths", set())
    return paths


def navigation(request: Request, staff: Staff | None) -> list[dict[str, Any]]:
    if staff is None:
        return []
    paths = _get_paths(request)
    here = request.url.path
    items = []
    for label, path, roles in NAV:
        if path not in paths or (roles is not None and not any(staff.has(r) for r in roles)):
            continue
        current = here == path or (path != "/admin/" and here.startswith(path + "/"))
        items.append({"label": label, "path": path, "current": current})
    return items


def format_when(value: datetime | None, zone: ZoneInfo) -> str:
    """'Tuesday 6 October 2026, 9am' (GOV.UK style) in the service's time zone."""
    if value is None:
        return ""
    local = value.astimezone(zone)
    hour = local.hour % 12 or 12
    minute = f":{local.minute:02d}" if local.minute else ""
    suffix = "am" if local.hour < 12 else "pm"
    if local.hour == 12 and local.minute == 0:
        clock = "midday"
    elif local.hour == 0 and local.minute == 0:
        clock = "midnight"
    else:
        clock = f"{hour}{minute}{suffix}"
    return f"{local:%A} {local.day} {local:%B %Y}, {clock}"


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/<name>`` (a page extending ``staff/layout.html``)."""
    settings = request.app.state.settings
    staff: Staff | None = getattr(request.state, "staff", None)
    seed = sessions.csrf_seed(request)
    new_pre: str | None = None
    if seed is None:
        new_pre = seed = sessions.new_token()
    context.setdefault("partnership_name", settings.partnership_name)
    context.setdefault("flash", getattr(request.state, "flash", None))
    zone = settings.zone
    html = render_template(
        name,
        staff=staff,
        nav=navigation(request, staff),
        csrf=sessions.csrf_for(settings, seed),
        when=lambda value: format_when(value, zone),
        label=key_label,
        **context,
    )
    response = HTMLResponse(
        html,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Content-Security-Policy": STAFF_CSP},
    )
    if new_pre is not None:
        sessions.set_pre_cookie(response, new_pre, settings=settings)
    return response


def flash(staff: Staff, message: str) -> None:
    """Leave ``message`` for the next page this person sees (commit with the change)."""
    staff.session.flash = message[:500]


def see_other(path: str) -> RedirectResponse:
    """The Redirect of Post/Redirect/Get."""
    return RedirectResponse(path, status_code=303)
