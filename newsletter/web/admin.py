"""The admin UI: sign-in (CSRF-protected form, signed session cookie) and the reports.

The session cookie is Starlette's signed cookie (itsdangerous) with a key derived from
settings.secret, so rotating the secret signs everybody out. The CSRF token is a random value
kept in that session and echoed by every form (synchroniser token); comparisons are constant
time. Reports are served exactly as `newsletter report ... --format html` writes them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import col, select
from starlette.middleware.sessions import SessionMiddleware

from newsletter.config import Settings
from newsletter.models import AdminUser, Bulletin
from newsletter.passwords import DUMMY_HASH, verify_password
from newsletter.reports import (
    ALL_KINDS,
    DEFAULT_KINDS,
    Output,
    PdfUnavailable,
    ReportError,
    bulletin_output,
    training_output,
)
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.pages import render_page

router = APIRouter(prefix="/admin")

SESSION_COOKIE = "newsletter_admin"
SESSION_MAX_AGE = 8 * 3600
_USER = "admin_user"
_CSRF = "csrf"
# Reports need nothing from anywhere: say so to the browser too.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"


def session_key(settings: Settings) -> str:
    """The session-cookie signing key: derived from the service secret, for this use only."""
    return hmac.new(settings.secret, b"newsletter admin session v1", hashlib.sha256).hexdigest()


def install(app: FastAPI, settings: Settings) -> None:
    """Add the session middleware and the admin routes to ``app``."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_key(settings),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path="/admin",
        same_site="lax",
        https_only=settings.public_base_url.startswith("https://"),
    )
    app.include_router(router)


def csrf_token(request: Request) -> str:
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


def check_csrf(request: Request, token: str) -> None:
    expected = request.session.get(_CSRF)
    if not isinstance(expected, str) or not hmac.compare_digest(expected, token):
        raise HTTPException(status_code=403, detail="The form has expired; reload the page.")


def signed_in(request: Request) -> str | None:
    user = request.session.get(_USER)
    return user if isinstance(user, str) else None


def _safe_next(target: str | None) -> str:
    # Only our own admin pages: never an absolute or scheme-relative URL (no open redirect).
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return "/admin/"


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/admin/login?next={quote(target, safe='')}", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """The sign-in form."""
    return render_page(
        request, "admin_login.html", csrf=csrf_token(request), next=_safe_next(next), error=None
    )


@router.post("/login", response_model=None)
def login(
    request: Request,
    db: SessionDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/admin/",
) -> Response:
    """Check the credentials; on success start a fresh session."""
    check_csrf(request, csrf)
    user = db.exec(select(AdminUser).where(col(AdminUser.email) == email.strip().lower())).first()
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    if user is None or not ok:
        return render_page(
            request,
            "admin_login.html",
            status_code=401,
            csrf=csrf_token(request),
            next=_safe_next(next),
            error="Email or password not recognised.",
        )
    request.session.clear()
    request.session[_USER] = user.email
    request.session[_CSRF] = secrets.token_urlsafe(32)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()]) -> RedirectResponse:
    """End the session."""
    check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/admin/login", status_code=303)


@router.get("/", response_model=None)
def index(request: Request, db: SessionDep) -> Response:
    """The admin home: the bulletins and their reports."""
    user = signed_in(request)
    if user is None:
        return _to_login(request)
    bulletins = db.exec(select(Bulletin).order_by(col(Bulletin.month).desc())).all()
    return render_page(
        request,
        "admin_index.html",
        user=user,
        csrf=csrf_token(request),
        bulletins=bulletins,
        kinds=ALL_KINDS,
    )


def _report_response(output: Output) -> Response:
    headers = {"Cache-Control": "no-store"}
    if output.fmt == "html":
        headers["Content-Security-Policy"] = REPORT_CSP
    else:
        kind = "inline" if output.fmt == "pdf" else "attachment"
        headers["Content-Disposition"] = f'{kind}; filename="{output.filename}"'
    return Response(output.content, media_type=output.media_type, headers=headers)


FORMAT_PATTERN = "^(html|pdf|csv|json|table)$"


@router.get("/reports/training", response_model=None)
def training_report(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    # An empty field of the index page's form means "no limit".
    month_from: Annotated[str | None, Query(alias="from", pattern=r"^(\d{4}-\d{2})?$")] = None,
    month_to: Annotated[str | None, Query(alias="to", pattern=r"^(\d{4}-\d{2})?$")] = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: str = ",".join(DEFAULT_KINDS),
    format: Annotated[str, Query(pattern=FORMAT_PATTERN)] = "html",
) -> Response:
    """The training report (same as `newsletter report training`)."""
    if signed_in(request) is None:
        return _to_login(request)
    try:
        output = training_output(
            db,
            settings,
            fmt=format,  # type: ignore[arg-type]
            month_from=month_from or None,
            month_to=month_to or None,
            agency=agency or None,
            course=course or None,
            kinds=[k.strip() for k in kinds.split(",") if k.strip()],
        )
    except ReportError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    except PdfUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return _report_response(output)


@router.get("/reports/bulletin/{month}", response_model=None)
def bulletin_report(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
    format: Annotated[str, Query(pattern=FORMAT_PATTERN)] = "html",
) -> Response:
    """One bulletin's report (same as `newsletter report bulletin MONTH`)."""
    if signed_in(request) is None:
        return _to_login(request)
    try:
        output = bulletin_output(db, settings, month=month, fmt=format)  # type: ignore[arg-type]
    except ReportError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except PdfUnavailable as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return _report_response(output)
