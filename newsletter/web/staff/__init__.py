"""The staff app under /admin/: sign-in, roles, the layout, CSRF and the activity log.

How to add a staff page (a page family, e.g. the plan editor)
--------------------------------------------------------------
1. **Router**: a module here, one per page family (``web/staff/plan.py``), with
   ``router = staff_router()`` (from :mod:`.auth`). It carries the ``/admin`` prefix and checks
   the CSRF token of every POST/PUT/PATCH/DELETE, so no form can forget it. Add the module to
   ``ROUTERS`` below. Its navigation item (``NAV`` in :mod:`.render`) appears by itself once a
   GET route exists at its path (``/admin/plan``), for the roles listed there.
2. **Who may**: take ``staff: CurrentStaff`` (the person, their roles, their session) or
   ``user: StaffUser`` to require sign-in (a visitor is sent to sign in and comes back), and
   ``Annotated[User, Depends(require("editor"))]`` (or ``require("approver", "admin")``) for
   a role: 403 with a page saying which role is needed. Never an ``if`` on roles in the handler
   to refuse; use ``staff.has("approver")`` only to show or hide a button.
3. **Template**: ``newsletter/web/templates/staff/<family>/<page>.html`` extending
   ``staff/layout.html`` (blocks ``title`` and ``content``); render it with
   ``render(request, "staff/plan/index.html", **context)`` from :mod:`.render`. The layout gives
   ``csrf`` (put ``<input type="hidden" name="csrf" value="{{ csrf }}">`` in every form),
   ``when(dt)`` ("Tuesday 6 October 2026, 9am" in the service's zone) and the classes of
   ``/static/staff.css`` (GOV.UK Design System patterns: ``error-summary``, ``summary-list``,
   ``tag``, ``table``, ``button``, ``notification-banner``...; see ``staff/layout.html`` and
   the users pages for examples). No inline script or style: the CSP refuses them.
4. **Forms**: validate on the server; on errors re-render with status 400, an error summary
   linking to each field (``#field-id``) and the message beside the field. On success:
   Post/Redirect/Get, ``flash(staff, "July's bulletin approved")`` then
   ``return see_other("/admin/bulletins/2026-07")`` (the banner shows on the next page).
5. **Activity log**: every change a person makes calls
   ``newsletter.activity.record(db, actor=user, action="bulletin.approve",
   object="bulletin:2026-07", detail="...")`` in the same transaction as the change (then
   ``db.commit()``). The CLI passes ``actor=cli_actor()``, the scheduler ``actor=SCHEDULER``.
6. **Limits**: anything a stranger can trigger repeatedly (sign-up, preference links, API
   keys) counts attempts with :mod:`newsletter.ratelimit` (``hit(db, LIMIT, key, now=...)``).
7. **Bodies**: requests are capped while they stream (:mod:`newsletter.web.bodylimit`); a page
   that takes uploads raises its own limit with ``BodyLimit.limits[path] = bytes`` at install.
8. **Tests**: HTTP-level for the rules (role -> 403, CSRF -> 403, signed out -> 303) and a
   Playwright test with an axe check and a screenshot (see tests/web/staff/).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from newsletter.web.staff import (
    account,
    activity,
    apidocs,
    bulletins,
    catalogue,
    dashboard,
    lists,
    plan,
    recovery,
    reports,
    sending,
    signin,
    subscribers,
    themes,
    tokens,
    users,
)
from newsletter.web.staff.auth import CsrfFailed, Forbidden, SignInRequired
from newsletter.web.staff.render import render

ROUTERS = [
    signin,
    recovery,
    account,
    dashboard,
    plan,
    themes,
    catalogue,
    bulletins,
    sending,
    users,
    activity,
    reports,
    subscribers,
    lists,
    tokens,
    apidocs,
]


async def _to_sign_in(request: Request, exc: Exception) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/admin/"
    return RedirectResponse(f"/admin/sign-in?next={quote(target, safe='')}", status_code=303)


async def _forbidden(request: Request, exc: Exception) -> HTMLResponse:
    roles = exc.roles if isinstance(exc, Forbidden) else ()
    return render(request, "staff/forbidden.html", status_code=403, roles=roles)


async def _csrf_failed(request: Request, exc: Exception) -> HTMLResponse:
    return render(request, "staff/csrf_failed.html", status_code=403)


def install(app: FastAPI) -> None:
    """Add the staff pages and their error answers to ``app``."""
    get_paths: set[str] = set()
    for module in ROUTERS:
        app.include_router(module.router)
        for route in module.router.routes:
            if "GET" in (getattr(route, "methods", None) or ()):
                get_paths.add(str(getattr(route, "path", "")))
    app.state.staff_get_paths = get_paths  # the navigation shows the pages that exist
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(CsrfFailed, _csrf_failed)
