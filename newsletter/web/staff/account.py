"""One's own account: setting up the second factor (TOTP) and changing one's password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from newsletter.accounts import set_password
from newsletter.activity import record
from newsletter.models import SessionStage, StaffSession, User
from newsletter.passwords import password_problem
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff import security, sessions
from newsletter.web.staff.auth import CurrentStaff, SignInRequired, staff_router
from newsletter.web.staff.render import flash, render, see_other
from newsletter.web.staff.signin import promote

router = staff_router()


def _enrolling(
    request: Request, db: Session, settings: SettingsDep, clock: ClockDep
) -> tuple[StaffSession, User]:
    """The session setting up a second factor: a pending 'enrol' one, or anyone signed in."""
    row = sessions.find(
        db, request.cookies.get(sessions.COOKIE), settings=settings, now=clock.now()
    )
    if row is None or row.stage == SessionStage.second_factor:
        raise SignInRequired
    user = db.get(User, row.user_id)
    if user is None:
        raise SignInRequired
    return row, user


def _set_up_page(
    request: Request,
    db: Session,
    user: User,
    settings: SettingsDep,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert user.totp_secret is not None
    uri = security.totp_uri(user, issuer=settings.partnership_name)
    return render(
        request,
        "staff/set_up_two_factor.html",
        status_code=status_code,
        secret=user.totp_secret,
        uri=uri,
        qr=security.totp_qr_data_uri(uri),
        error=error,
    )


@router.get("/two-factor/set-up", response_class=HTMLResponse)
def set_up_form(
    request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Show a new secret as a QR code (and as text) for an authenticator app."""
    _, user = _enrolling(request, db, settings, clock)
    if user.totp_confirmed_at is not None:
        return see_other("/admin/account")
    if user.totp_secret is None:
        user.totp_secret = security.new_totp_secret()
        db.add(user)
        db.commit()
    return _set_up_page(request, db, user, settings)


@router.post("/two-factor/set-up", response_model=None)
def set_up(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Confirm the app works by one of its codes; the second factor is on from now."""
    now = clock.now()
    row, user = _enrolling(request, db, settings, clock)
    if user.totp_confirmed_at is not None:
        return see_other("/admin/account")
    step = security.totp_step(user, code, now=now)
    if step is None:
        return _set_up_page(
            request,
            db,
            user,
            settings,
            status_code=400,
            error="The code is not right. Enter the 6-digit code your app shows now.",
        )
    user.totp_last_step = step
    user.totp_confirmed_at = now
    db.add(user)
    record(db, actor=user, action="user.second_factor_on", object=f"user:{user.email}")
    if row.stage == SessionStage.enrol:
        return promote(
            request,
            db,
            row,
            user,
            settings=settings,
            now=now,
            next="/admin/",
            how="second factor set up",
        )
    db.commit()
    return see_other("/admin/account")


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, staff: CurrentStaff) -> HTMLResponse:
    """Your account: roles, second factor, password."""
    return render(
        request, "staff/account.html", user=staff.user, roles=sorted(staff.roles), errors={}
    )


@router.post("/account/password", response_model=None)
def change_password(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    clock: ClockDep,
    current: Annotated[str, Form(max_length=2048)] = "",
    new: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Change your password; every other session of yours ends."""
    errors: dict[str, str] = {}
    if not security.check_password(db, staff.user, current):
        errors["current"] = "Your current password is not right"
    problem = password_problem(new)
    if problem:
        errors["new"] = problem[0].upper() + problem[1:]
    if errors:
        return render(
            request,
            "staff/account.html",
            status_code=400,
            user=staff.user,
            roles=sorted(staff.roles),
            errors=errors,
        )
    set_password(
        db,
        staff.user,
        security.new_hash(db, new),
        actor=staff.user,
        now=clock.now(),
        keep_session=staff.session.id,
    )
    flash(staff, "Your password has been changed. You have been signed out everywhere else.")
    db.commit()
    return see_other("/admin/account")
