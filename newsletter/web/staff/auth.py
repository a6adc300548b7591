"""Who is signed in, what they may do, and CSRF: FastAPI dependencies for every staff page.

* ``StaffUser`` (``Annotated[User, Depends(signed_in)]``): the signed-in person; a visitor who
  is not signed in is sent to the sign-in page (303, coming back afterwards).
* ``Depends(require("approver"))``: the same, and 403 unless the person holds that role (any of
  several when given several). Put it on the route, never an ``if`` inside the handler.
* ``csrf_protect``: every staff router carries it (see :func:`staff_router`); a POST, PUT,
  PATCH or DELETE without the right ``csrf`` form field (or ``X-CSRF-Token`` header) gets 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from newsletter.accounts import roles_of
from newsletter.models import Role, SessionStage, StaffSession, User
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff import sessions


class SignInRequired(Exception):
    """Raised by the dependencies when nobody is signed in: answered with a redirect."""


class Forbidden(Exception):
    """Raised when the signed-in person lacks the role a page needs: answered with 403."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(f"needs the {' or '.join(roles)} role")
        self.roles = roles


class CsrfFailed(Exception):
    """A form arrived without its CSRF token (or with another page's): answered with 403."""


@dataclass
class Staff:
    """The signed-in person for this request, their roles and their session row."""

    user: User
    roles: frozenset[Role]
    session: StaffSession

    def has(self, role: Role | str) -> bool:
        return Role(role) in self.roles


def current_staff(
    request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Staff:
    """The signed-in person (fully: past the second factor), or SignInRequired."""
    row = sessions.find(
        db, request.cookies.get(sessions.COOKIE), settings=settings, now=clock.now()
    )
    if row is None or row.stage != SessionStage.signed_in:
        raise SignInRequired
    user = db.get(User, row.user_id)
    if user is None:
        raise SignInRequired
    staff = Staff(user=user, roles=roles_of(db, user), session=row)
    request.state.staff = staff
    if row.flash and request.method == "GET" and _is_page(request):
        # Post/Redirect/Get: the message left by the POST shows once, on this page (not in a
        # preview frame or a polled JSON answer that happens to load meanwhile).
        request.state.flash, row.flash = row.flash, None
        db.add(row)
        db.commit()
    return staff


def _is_page(request: Request) -> bool:
    """A top-level page load (browsers say so in Sec-Fetch-Dest; other clients are pages)."""
    return request.headers.get("sec-fetch-dest", "document") == "document"


CurrentStaff = Annotated[Staff, Depends(current_staff)]


def signed_in(staff: CurrentStaff) -> User:
    """The signed-in User (see module docstring)."""
    return staff.user


StaffUser = Annotated[User, Depends(signed_in)]


def require(*roles: Role | str) -> Callable[..., User]:
    """A dependency: the signed-in User if they hold any of ``roles``, else Forbidden (403)."""
    wanted = tuple(Role(r) for r in roles)
    if not wanted:
        raise ValueError("require() needs at least one role")

    def check(staff: CurrentStaff) -> User:
        if not any(r in staff.roles for r in wanted):
            raise Forbidden(wanted)
        return staff.user

    check.__name__ = f"require_{'_or_'.join(wanted)}"
    return check


_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


async def csrf_protect(request: Request, settings: SettingsDep) -> None:
    """Refuse an unsafe request whose CSRF token does not match the browser's cookie."""
    if request.method not in _UNSAFE:
        return
    seed = sessions.csrf_seed(request)
    sent: Any = request.headers.get("x-csrf-token")
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get("csrf")
    if (
        seed is None
        or not isinstance(sent, str)
        or not hmac.compare_digest(sessions.csrf_for(settings, seed), sent)
    ):
        raise CsrfFailed


def staff_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for staff pages under /admin, CSRF-protected on every unsafe method."""
    dependencies = [Depends(csrf_protect), *kwargs.pop("dependencies", [])]
    return APIRouter(prefix="/admin", dependencies=dependencies, include_in_schema=False, **kwargs)
