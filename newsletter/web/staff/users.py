"""People and roles, for admins: invite, change roles, unlock, set a password, remove.

Every change goes through :mod:`newsletter.accounts` (the same rules as `newsletter users ...`)
and is written to the activity log.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from newsletter import accounts, ratelimit
from newsletter.accounts import AccountError
from newsletter.activity import record
from newsletter.models import LinkPurpose, Role, User
from newsletter.passwords import password_problem
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff import links, security
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.render import flash, render, see_other

router = staff_router(dependencies=[Depends(require("admin"))])
ROLE_HINTS = {
    Role.editor: "plans themes and the catalogue, previews and sends proofs",
    Role.approver: "approves or rejects bulletins, and is asked to",
    Role.admin: "manages people, subscribers and tokens (needs a second factor)",
}


def _person(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail="No such person")
    return user


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, db: SessionDep, clock: ClockDep) -> HTMLResponse:
    """Everyone who can sign in, with their roles."""
    return render(request, "staff/users/index.html", people=accounts.people(db), now=clock.now())


def _new_form(
    request: Request, *, values: dict[str, object], errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "staff/users/new.html",
        status_code=status_code,
        values=values,
        errors=errors,
        roles=list(Role),
        hints=ROLE_HINTS,
    )


@router.get("/users/new", response_class=HTMLResponse)
def new_user_form(request: Request) -> HTMLResponse:
    """The invitation form."""
    return _new_form(request, values={"email": "", "name": "", "roles": []}, errors={})


@router.post("/users", response_model=None)
def invite(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create the account and email the person a link to choose their password."""
    now = clock.now()
    chosen = roles or []
    values: dict[str, object] = {"email": email, "name": name, "roles": chosen}
    errors: dict[str, str] = {}
    address = ""
    try:
        address = accounts.normalise_email(email)
        if accounts.find_user(db, address) is not None:
            errors["email"] = f"{address} already has an account"
    except AccountError:
        errors["email"] = "Enter an email address in the correct format, like name@example.org"
    try:
        granted = accounts.parse_roles(chosen)
    except AccountError as exc:
        errors["roles"] = str(exc)
        granted = set()
    if not granted and "roles" not in errors:
        errors["roles"] = "Choose at least one role"
    if errors:
        return _new_form(request, values=values, errors=errors, status_code=400)
    limit = ratelimit.hit(db, ratelimit.INVITE, str(staff.user.id), now=now)
    if not limit.allowed:
        db.commit()
        errors["email"] = "You have sent too many invitations in the last hour; try again later"
        return _new_form(request, values=values, errors=errors, status_code=429)
    user = accounts.add_user(db, email=address, name=name, roles=granted, actor=staff.user, now=now)
    url = links.issue(db, user, LinkPurpose.invite, settings=settings, now=now)
    record(db, actor=staff.user, action="user.invite", object=f"user:{address}")
    db.commit()
    sent = links.send(
        settings, to=address, purpose=LinkPurpose.invite, url=url, invited_by=staff.user.email
    )
    flash(
        staff,
        f"Invitation sent to {address}"
        if sent
        else f"{address} was added, but the invitation email could not be sent: send it again from their page",
    )
    db.commit()
    return see_other("/admin/users")


@router.get("/users/{user_id}", response_class=HTMLResponse)
def person(request: Request, user_id: int, db: SessionDep, clock: ClockDep) -> HTMLResponse:
    """One person: roles, sign-in state, and what an admin can do about it."""
    user = _person(db, user_id)
    return render(
        request,
        "staff/users/show.html",
        user=user,
        held=accounts.roles_of(db, user),
        roles=list(Role),
        hints=ROLE_HINTS,
        now=clock.now(),
        errors={},
    )


@router.post("/users/{user_id}/roles", response_model=None)
def change_roles(
    request: Request,
    user_id: int,
    staff: CurrentStaff,
    db: SessionDep,
    clock: ClockDep,
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Give the person exactly the roles ticked."""
    user = _person(db, user_id)
    try:
        accounts.set_roles(db, user, accounts.parse_roles(roles or []), actor=staff.user)
    except AccountError as exc:
        db.rollback()
        return render(
            request,
            "staff/users/show.html",
            status_code=400,
            user=user,
            held=accounts.roles_of(db, user),
            roles=list(Role),
            hints=ROLE_HINTS,
            now=clock.now(),
            errors={"roles": str(exc)[0].upper() + str(exc)[1:]},
        )
    flash(staff, f"Roles of {user.email} saved")
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/invitation", response_model=None)
def send_link(
    user_id: int, staff: CurrentStaff, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Email a new invitation (no password yet) or a reset link (has one)."""
    user = _person(db, user_id)
    now = clock.now()
    limit = ratelimit.hit(db, ratelimit.INVITE, str(staff.user.id), now=now)
    if not limit.allowed:
        flash(staff, "You have sent too many links in the last hour; try again later")
        db.commit()
        return see_other(f"/admin/users/{user_id}")
    purpose = LinkPurpose.invite if user.password_hash is None else LinkPurpose.reset
    url = links.issue(db, user, purpose, settings=settings, now=now)
    record(db, actor=staff.user, action=f"user.{purpose.value}_sent", object=f"user:{user.email}")
    db.commit()
    sent = links.send(
        settings, to=user.email, purpose=purpose, url=url, invited_by=staff.user.email
    )
    what = "An invitation" if purpose is LinkPurpose.invite else "A password reset link"
    flash(
        staff,
        f"{what} was sent to {user.email}"
        if sent
        else f"The email to {user.email} could not be sent",
    )
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/password", response_model=None)
def set_password(
    request: Request,
    user_id: int,
    staff: CurrentStaff,
    db: SessionDep,
    clock: ClockDep,
    password: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Set the person's password (tell them by other means); their sessions end."""
    user = _person(db, user_id)
    problem = password_problem(password)
    if problem:
        return render(
            request,
            "staff/users/show.html",
            status_code=400,
            user=user,
            held=accounts.roles_of(db, user),
            roles=list(Role),
            hints=ROLE_HINTS,
            now=clock.now(),
            errors={"password": problem[0].upper() + problem[1:]},
        )
    keep = staff.session.id if user.id == staff.user.id else None
    accounts.set_password(
        db,
        user,
        security.new_hash(db, password),
        actor=staff.user,
        now=clock.now(),
        keep_session=keep,
    )
    flash(staff, f"Password of {user.email} set; they have been signed out everywhere")
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/unlock", response_model=None)
def unlock(user_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    """Lift a lock-out before its delay has passed."""
    user = _person(db, user_id)
    user.locked_until = None
    db.add(user)
    ratelimit.clear(db, ratelimit.SIGN_IN_ACCOUNT, str(user.id))
    record(db, actor=staff.user, action="user.unlock", object=f"user:{user.email}")
    flash(staff, f"{user.email} can sign in again")
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/two-factor/reset", response_model=None)
def reset_two_factor(user_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    """Forget the person's second factor (a lost phone); they set up a new one at sign-in."""
    user = _person(db, user_id)
    user.totp_secret = None
    user.totp_confirmed_at = None
    user.totp_last_step = None
    db.add(user)
    accounts.end_sessions(db, user, keep=staff.session.id if user.id == staff.user.id else None)
    record(db, actor=staff.user, action="user.second_factor_reset", object=f"user:{user.email}")
    flash(staff, f"Second factor of {user.email} removed; they will set up a new one")
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.post("/users/{user_id}/sessions/end", response_model=None)
def end_sessions(user_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    """Sign the person out on every device."""
    user = _person(db, user_id)
    ended = accounts.end_sessions(
        db, user, keep=staff.session.id if user.id == staff.user.id else None
    )
    record(
        db,
        actor=staff.user,
        action="user.sessions_ended",
        object=f"user:{user.email}",
        detail=f"{ended} session(s)",
    )
    flash(staff, f"{user.email} has been signed out everywhere ({ended} session(s))")
    db.commit()
    return see_other(f"/admin/users/{user_id}")


@router.get("/users/{user_id}/remove", response_class=HTMLResponse)
def remove_form(request: Request, user_id: int, db: SessionDep) -> HTMLResponse:
    """Ask to confirm the removal."""
    return render(request, "staff/users/remove.html", user=_person(db, user_id), error=None)


@router.post("/users/{user_id}/remove", response_model=None)
def remove(request: Request, user_id: int, staff: CurrentStaff, db: SessionDep) -> Response:
    """Remove the person: their sessions end at once; the activity log keeps what they did."""
    user = _person(db, user_id)
    email = user.email
    try:
        accounts.remove_user(db, user, actor=staff.user)
    except AccountError as exc:
        db.rollback()
        return render(
            request, "staff/users/remove.html", status_code=400, user=user, error=str(exc)
        )
    if user_id == staff.user.id:
        db.commit()
        return see_other("/admin/signed-out")
    flash(staff, f"{email} has been removed")
    db.commit()
    return see_other("/admin/users")
