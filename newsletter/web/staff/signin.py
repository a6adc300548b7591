"""Signing in and out: password, second factor (TOTP), lock-outs and per-client limits.

POST /admin/sign-in checks the per-client limit first (nothing is hashed past it), then the
account's lock, then the password (always hashed, known account or not). 30 wrong passwords
lock the account for STAFF_LOCKOUT_MINUTES, the right one included; the page says why and until
when. Success starts a new session (new id): fully signed in, or first the second factor (anyone
who set one up) or setting one up (admins, who must have one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from newsletter import ratelimit
from newsletter.accounts import find_user, roles_of
from newsletter.activity import record
from newsletter.config import Settings
from newsletter.models import Role, SessionStage, StaffSession, User
from newsletter.passwords import needs_rehash
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff import security, sessions
from newsletter.web.staff.auth import SignInRequired, staff_router
from newsletter.web.staff.render import format_when, render, see_other

router = staff_router()


def safe_next(target: str | None) -> str:
    """Only our own staff pages: never an absolute or scheme-relative URL (no open redirect)."""
    if (
        target
        and target.startswith("/admin/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/admin/"


def _minutes(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 59) // 60)


def _too_many(request: Request, retry_after: timedelta, *, what: str) -> HTMLResponse:
    response = render(
        request,
        "staff/too_many.html",
        status_code=429,
        what=what,
        minutes=_minutes(retry_after),
    )
    response.headers["Retry-After"] = str(int(retry_after.total_seconds()) + 1)
    return response


def _locked(request: Request, user: User, settings: Settings, now: datetime) -> HTMLResponse:
    assert user.locked_until is not None
    response = render(
        request,
        "staff/locked.html",
        status_code=429,
        until=format_when(user.locked_until, settings.zone),
        attempts=ratelimit.SIGN_IN_ACCOUNT.max,
    )
    response.headers["Retry-After"] = str(int((user.locked_until - now).total_seconds()) + 1)
    return response


def _sign_in_form(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    done: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "staff/sign_in.html",
        status_code=status_code,
        next=next,
        error=error,
        email=email,
        done=done,
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, next: str | None = None, done: str | None = None
) -> HTMLResponse:
    """The sign-in form (``done``: a banner after choosing a password from an emailed link)."""
    return _sign_in_form(request, next=safe_next(next), done=done)


def _begin(
    request: Request, db: Session, user: User, *, settings: Settings, now: datetime, next: str
) -> Response:
    """Password accepted: start the right kind of session and send the browser on."""
    if user.totp_confirmed_at is not None:
        stage, target = SessionStage.second_factor, f"/admin/two-factor?next={quote(next, safe='')}"
    elif Role.admin in roles_of(db, user):
        stage, target = SessionStage.enrol, "/admin/two-factor/set-up"
    else:
        stage, target = SessionStage.signed_in, next
    _, token = sessions.start(db, request, user, stage=stage, now=now)
    # Housekeeping, cheap and indexed: sessions past their timeouts, counts of old windows.
    sessions.prune(db, settings=settings, now=now)
    ratelimit.prune(db, before=now - timedelta(days=2))
    if stage is SessionStage.signed_in:
        user.last_sign_in_at = now
        db.add(user)
        record(
            db,
            actor=user,
            action="user.sign_in",
            object=f"user:{user.email}",
            client=sessions.client_address(request),
        )
    db.commit()
    response = see_other(target)
    sessions.set_cookie(response, token, settings=settings)
    return response


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/admin/",
) -> Response:
    """Check the email and password; lock the account after too many wrong passwords."""
    now = clock.now()
    target = safe_next(next)
    client = sessions.client_address(request)
    by_client = ratelimit.hit(db, ratelimit.SIGN_IN_CLIENT, client, now=now)
    db.commit()
    if not by_client.allowed:
        return _too_many(request, by_client.retry_after, what="sign-in attempts")
    if not email.strip() or not password:
        return _sign_in_form(
            request,
            next=target,
            email=email,
            status_code=400,
            error="Enter your email address and password.",
        )
    user = find_user(db, email)
    if user is not None and user.locked_until is not None:
        if user.locked_until > now:
            record(
                db,
                actor="anonymous",
                action="user.sign_in_refused",
                object=f"user:{user.email}",
                detail="account locked",
                client=client,
            )
            db.commit()
            return _locked(request, user, settings, now)
        user.locked_until = None
        db.add(user)
    if not security.check_password(db, user, password):
        if user is None:
            record(
                db,
                actor="anonymous",
                action="user.sign_in_failed",
                object=f"unknown:{email.strip().lower()[:300]}",
                client=client,
            )
            db.commit()
        else:
            wrong = ratelimit.hit(db, ratelimit.SIGN_IN_ACCOUNT, str(user.id), now=now)
            record(
                db,
                actor="anonymous",
                action="user.sign_in_failed",
                object=f"user:{user.email}",
                detail=f"wrong password: {wrong.count} of {ratelimit.SIGN_IN_ACCOUNT.max} before a lock",
                client=client,
            )
            if wrong.count >= ratelimit.SIGN_IN_ACCOUNT.max:
                user.locked_until = now + timedelta(minutes=settings.staff_lockout_minutes)
                db.add(user)
                ratelimit.clear(db, ratelimit.SIGN_IN_ACCOUNT, str(user.id))
                record(
                    db,
                    actor="anonymous",
                    action="user.locked",
                    object=f"user:{user.email}",
                    detail=f"{wrong.count} wrong passwords",
                    client=client,
                )
                db.commit()
                return _locked(request, user, settings, now)
            db.commit()
        return _sign_in_form(
            request,
            next=target,
            email=email,
            status_code=401,
            error="Email address or password not recognised.",
        )
    assert user is not None
    assert user.password_hash is not None
    ratelimit.clear(db, ratelimit.SIGN_IN_ACCOUNT, str(user.id))
    if needs_rehash(user.password_hash):
        user.password_hash = security.new_hash(db, password)
        db.add(user)
        record(
            db,
            actor=user,
            action="user.password_rehashed",
            object=f"user:{user.email}",
            detail="stored as Argon2id",
        )
    return _begin(request, db, user, settings=settings, now=now, next=target)


def pending(
    request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> StaffSession:
    """A session whose password was accepted but whose second factor is still due."""
    row = sessions.find(
        db, request.cookies.get(sessions.COOKIE), settings=settings, now=clock.now()
    )
    if row is None or row.stage == SessionStage.signed_in:
        raise SignInRequired
    return row


Pending = Annotated[StaffSession, Depends(pending)]


def promote(
    request: Request,
    db: Session,
    row: StaffSession,
    user: User,
    *,
    settings: Settings,
    now: datetime,
    next: str,
    how: str,
) -> Response:
    """The second factor is done: replace the pending session by a new, full one."""
    sessions.end(db, row)
    _, token = sessions.start(db, request, user, stage=SessionStage.signed_in, now=now)
    user.last_sign_in_at = now
    db.add(user)
    record(
        db,
        actor=user,
        action="user.sign_in",
        object=f"user:{user.email}",
        detail=how,
        client=sessions.client_address(request),
    )
    db.commit()
    response = see_other(safe_next(next))
    sessions.set_cookie(response, token, settings=settings)
    return response


@router.get("/two-factor", response_class=HTMLResponse)
def two_factor_form(request: Request, row: Pending, next: str | None = None) -> Response:
    """Ask for the 6-digit code from the authenticator app."""
    if row.stage == SessionStage.enrol:
        return see_other("/admin/two-factor/set-up")
    return render(request, "staff/two_factor.html", next=safe_next(next), error=None)


@router.post("/two-factor", response_model=None)
def two_factor(
    request: Request,
    row: Pending,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    code: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/admin/",
) -> Response:
    """Check the code; on success the browser is signed in (with a new session id)."""
    now = clock.now()
    user = db.get(User, row.user_id)
    if user is None or row.stage != SessionStage.second_factor:
        raise SignInRequired
    tries = ratelimit.hit(db, ratelimit.SECOND_FACTOR, str(user.id), now=now)
    if not tries.allowed:
        record(
            db, actor="anonymous", action="user.second_factor_limited", object=f"user:{user.email}"
        )
        db.commit()
        return _too_many(request, tries.retry_after, what="wrong codes")
    step = security.totp_step(user, code, now=now)
    if step is None:
        record(
            db,
            actor="anonymous",
            action="user.second_factor_failed",
            object=f"user:{user.email}",
            client=sessions.client_address(request),
        )
        db.commit()
        return render(
            request,
            "staff/two_factor.html",
            status_code=401,
            next=safe_next(next),
            error="The code is not right, or was already used. Enter the code your app shows now.",
        )
    user.totp_last_step = step
    ratelimit.clear(db, ratelimit.SECOND_FACTOR, str(user.id))
    return promote(
        request, db, row, user, settings=settings, now=now, next=next, how="with second factor"
    )


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep) -> Response:
    """End this session everywhere: the cookie stops working even where it was copied."""
    row = sessions.find(
        db, request.cookies.get(sessions.COOKIE), settings=settings, now=clock.now()
    )
    if row is not None:
        user = db.get(User, row.user_id)
        sessions.end(db, row)
        if user is not None:
            record(db, actor=user, action="user.sign_out", object=f"user:{user.email}")
        db.commit()
    response = see_other("/admin/signed-out")
    sessions.clear_cookie(response)
    return response


@router.get("/signed-out", response_class=HTMLResponse)
def signed_out(request: Request) -> HTMLResponse:
    """Confirmation that the browser is signed out."""
    return render(request, "staff/signed_out.html")
