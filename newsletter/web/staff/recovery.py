"""Forgot password, reset links and accepting an invitation (pages open to everyone).

"Forgot password" answers the same page whether or not the address has an account, and the
email leaves after the answer (a background task), so neither the words nor the timing tell a
stranger who has an account. Requests are limited per address and per client.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from newsletter import accounts, ratelimit
from newsletter.accounts import AccountError
from newsletter.activity import record
from newsletter.models import AccountLink, LinkPurpose, User
from newsletter.passwords import password_problem
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff import links, security, sessions
from newsletter.web.staff.auth import staff_router
from newsletter.web.staff.render import render, see_other

router = staff_router()


@router.get("/forgot-password", response_class=HTMLResponse)
def forgot_form(request: Request) -> HTMLResponse:
    """Ask for the address to send a reset link to."""
    return render(request, "staff/forgot_password.html", error=None, email="")


@router.post("/forgot-password", response_model=None)
def forgot(
    request: Request,
    background: BackgroundTasks,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Send a reset link if the address has an account; the answer is the same either way."""
    now = clock.now()
    try:
        address = accounts.normalise_email(email)
    except AccountError:
        return render(
            request,
            "staff/forgot_password.html",
            status_code=400,
            email=email,
            error="Enter an email address in the correct format, like name@example.org",
        )
    by_client = ratelimit.hit(db, ratelimit.RESET_CLIENT, sessions.client_address(request), now=now)
    by_address = ratelimit.hit(db, ratelimit.RESET_ADDRESS, address, now=now)
    user = accounts.find_user(db, address)
    if user is not None and by_client.allowed and by_address.allowed:
        url = links.issue(db, user, LinkPurpose.reset, settings=settings, now=now)
        record(
            db,
            actor="anonymous",
            action="user.reset_requested",
            object=f"user:{address}",
            client=sessions.client_address(request),
        )
        background.add_task(links.send, settings, to=address, purpose=LinkPurpose.reset, url=url)
    db.commit()
    if not by_client.allowed:
        # The only different answer: about this client, never about the address.
        return render(
            request,
            "staff/too_many.html",
            status_code=429,
            what="reset requests",
            minutes=max(1, int(by_client.retry_after.total_seconds()) // 60 + 1),
        )
    return see_other("/admin/forgot-password/sent")


@router.get("/forgot-password/sent", response_class=HTMLResponse)
def forgot_sent(request: Request, settings: SettingsDep) -> HTMLResponse:
    """What happens next (the same whether or not the address has an account)."""
    return render(request, "staff/forgot_password_sent.html", minutes=settings.staff_reset_minutes)


def _link_user(
    db: Session, token: str, purpose: LinkPurpose, now: datetime
) -> tuple[AccountLink, User] | None:
    link = links.find(db, token, purpose, now=now)
    if link is None:
        return None
    user = db.get(User, link.user_id)
    return (link, user) if user is not None else None


def _choose_form(
    request: Request,
    purpose: LinkPurpose,
    *,
    user: User | None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    if user is None:
        return render(request, "staff/link_expired.html", status_code=404, purpose=purpose.value)
    return render(
        request,
        "staff/choose_password.html",
        status_code=status_code,
        purpose=purpose.value,
        email=user.email,
        error=error,
        action=f"{links.PATHS[purpose]}{request.path_params['token']}",
    )


def _choose_page(purpose: LinkPurpose) -> Callable[..., HTMLResponse]:
    def page(request: Request, token: str, db: SessionDep, clock: ClockDep) -> HTMLResponse:
        found = _link_user(db, token, purpose, clock.now())
        return _choose_form(request, purpose, user=found[1] if found else None)

    return page


def _choose(purpose: LinkPurpose) -> Callable[..., Response]:
    def submit(
        request: Request,
        token: str,
        db: SessionDep,
        clock: ClockDep,
        password: Annotated[str, Form(max_length=2048)] = "",
        confirm: Annotated[str, Form(max_length=2048)] = "",
    ) -> Response:
        now = clock.now()
        found = _link_user(db, token, purpose, now)
        if found is None:
            return _choose_form(request, purpose, user=None)
        link, user = found
        problem = password_problem(password)
        if problem is None and password != confirm:
            problem = "the two passwords are not the same"
        if problem:
            return _choose_form(
                request, purpose, user=user, status_code=400, error=problem[0].upper() + problem[1:]
            )
        link.used_at = now
        db.add(link)
        accounts.set_password(db, user, security.new_hash(db, password), actor=user, now=now)
        record(db, actor=user, action=f"user.{purpose.value}_accepted", object=f"user:{user.email}")
        db.commit()
        return see_other(f"/admin/sign-in?done={purpose.value}")

    return submit


router.add_api_route(
    "/invitation/{token}",
    _choose_page(LinkPurpose.invite),
    methods=["GET"],
    response_class=HTMLResponse,
    summary="Choose a password (invitation)",
)
router.add_api_route(
    "/invitation/{token}",
    _choose(LinkPurpose.invite),
    methods=["POST"],
    response_model=None,
    summary="Set the password of an invited person",
)
router.add_api_route(
    "/reset-password/{token}",
    _choose_page(LinkPurpose.reset),
    methods=["GET"],
    response_class=HTMLResponse,
    summary="Choose a new password (reset link)",
)
router.add_api_route(
    "/reset-password/{token}",
    _choose(LinkPurpose.reset),
    methods=["POST"],
    response_model=None,
    summary="Set a new password from a reset link",
)
