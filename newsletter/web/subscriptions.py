"""Unsubscribe (RFC 8058 one-click) and the preference centre: ``/u/{token}`` and ``/p/{token}``.

* ``GET /u/{token}`` only shows a page with a confirm button: link scanners fetch every link
  in a message, so a GET never changes anything.
* ``POST /u/{token}`` unsubscribes at once. It is both the mailbox provider's one-click POST
  (body ``List-Unsubscribe=One-Click``, multipart or form-urlencoded, no cookies) and the
  confirm button's target. The token is the authority, so the body is not read at all, and
  the answer is a plain 200 page, never a redirect (RFC 8058 §3.2). It is exempt from CSRF
  checks by design: the provider cannot hold a form token.
* ``GET/POST /p/{token}``: agency, audiences, leave, or come back. Every POST carries a form
  token signed with the secret key over the subscriber token and the time it was issued,
  checked with ``hmac.compare_digest`` and refused after ``FORM_MAX_AGE``.
* An unknown, malformed, forged or erased token gets the same plain 404 page.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from newsletter import ratelimit
from newsletter.config import Settings
from newsletter.models import Agency, EventSource, Subscriber, SubscriberStatus
from newsletter.subscribers import (
    Preferences,
    SubscriberError,
    resubscribe,
    set_preferences,
    unsubscribe,
)
from newsletter.urls import preferences_url, unsubscribe_url
from newsletter.web.deps import (
    ClockDep,
    SessionDep,
    SettingsDep,
    SubscriberNotFound,
    TokenSubscriber,
)
from newsletter.web.pages import render_page

router = APIRouter()

FORM_MAX_AGE = 12 * 3600  # seconds a preference form stays valid
_FORM_CLOCK_SKEW = 300  # a token "issued" this far in the future is still accepted


def form_token(key: bytes, subscriber_token: str, issued: int) -> str:
    """A CSRF token for the preference form: ``<unix time>.<hmac>``."""
    return f"{issued}.{_form_mac(key, subscriber_token, issued)}"


def check_form_token(
    key: bytes | Sequence[bytes], subscriber_token: str, value: str, *, now: int
) -> bool:
    """True when ``value`` was issued by :func:`form_token` for this subscriber, recently."""
    issued_text, sep, mac = value.partition(".")
    if not sep or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not (now - FORM_MAX_AGE <= issued <= now + _FORM_CLOCK_SKEW):
        return False
    keys = (key,) if isinstance(key, bytes) else key
    return any(
        hmac.compare_digest(mac.encode(), _form_mac(k, subscriber_token, issued).encode())
        for k in keys
    )


def _form_mac(key: bytes, subscriber_token: str, issued: int) -> str:
    message = f"preferences-form|{subscriber_token}|{issued}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def not_found(request: Request, _exc: Exception) -> HTMLResponse:
    """The one answer to a token that names no subscriber (installed by :func:`install`)."""
    return render_page(request, "subscription_not_found.html", status_code=404)


def install(app: FastAPI) -> None:
    """The /u and /p pages, and their 404 for an unknown token."""
    app.add_exception_handler(SubscriberNotFound, not_found)
    app.include_router(router)


def _preferences_page(
    request: Request,
    session: Session,
    subscriber: Subscriber,
    *,
    settings: Settings,
    now: datetime,
    status_code: int = 200,
    error: str = "",
    saved: bool = False,
) -> HTMLResponse:
    agencies = session.exec(select(Agency).order_by(col(Agency.position))).all()
    return render_page(
        request,
        "subscription_preferences.html",
        status_code=status_code,
        email=subscriber.email,
        status=str(subscriber.status),
        agencies=agencies,
        agency=subscriber.agency,
        children=subscriber.serves_children,
        adults=subscriber.serves_adults,
        csrf=form_token(settings.secret, subscriber.token, int(now.timestamp())),
        action=preferences_url(settings, subscriber.token),
        error=error,
        saved=saved,
    )


def _message(
    request: Request, heading: str, message: str, *, preferences: str = "", status_code: int = 200
) -> HTMLResponse:
    return render_page(
        request,
        "subscription_message.html",
        status_code=status_code,
        heading=heading,
        message=message,
        preferences=preferences,
    )


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    subscriber: TokenSubscriber, request: Request, settings: SettingsDep
) -> HTMLResponse:
    """Unsubscribe confirmation page (changes nothing)."""
    return render_page(
        request,
        "subscription_unsubscribe.html",
        email=subscriber.email,
        active=subscriber.status == SubscriberStatus.active,
        action=unsubscribe_url(settings, subscriber.token),
        preferences=preferences_url(settings, subscriber.token),
    )


def _too_many(request: Request, retry_after: timedelta) -> HTMLResponse:
    minutes = max(1, math.ceil(retry_after.total_seconds() / 60))
    response = _message(
        request,
        "Too many attempts",
        f"Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again. "
        "Nothing was changed.",
        status_code=429,
    )
    response.headers["Retry-After"] = str(int(retry_after.total_seconds()) + 1)
    return response


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe_now(
    subscriber: TokenSubscriber,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> HTMLResponse:
    """RFC 8058 one-click unsubscribe, and the confirm button's target: 200, no redirect."""
    now = clock.now()
    # Limited per token, never per client (mailbox providers post from shared addresses), and
    # never refusing a valid token: past the limit nothing more is counted or written unless
    # the person is still subscribed, and the answer is the same. (An unknown token is a 404
    # from a read alone: a scanner's made-up tokens write nothing.)
    within = ratelimit.peek(session, ratelimit.UNSUBSCRIBE_TOKEN, subscriber.token, now=now)
    if within.allowed:
        ratelimit.hit(session, ratelimit.UNSUBSCRIBE_TOKEN, subscriber.token, now=now)
    if within.allowed or subscriber.status == SubscriberStatus.active:
        unsubscribe(
            session,
            subscriber,
            now=now,
            source=EventSource.web,
            method="POST",
            user_agent=request.headers.get("user-agent"),
        )
    session.commit()
    return _message(
        request,
        "You are unsubscribed",
        f"We will not send the learning bulletin to {subscriber.email} again.",
        preferences=preferences_url(settings, subscriber.token),
    )


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences_page(
    subscriber: TokenSubscriber,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> HTMLResponse:
    """The preference centre: agency, audiences, leave or come back."""
    return _preferences_page(request, session, subscriber, settings=settings, now=clock.now())


@router.post("/p/{token}", response_class=HTMLResponse)
def preferences_save(
    subscriber: TokenSubscriber,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    csrf: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "save",
    agency: Annotated[str, Form()] = "",
    children: Annotated[str, Form()] = "",
    adults: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Apply a preference form (CSRF-checked, rate-limited); nothing changes when refused."""
    now = clock.now()
    client = request.client.host if request.client else "unknown"
    by_client = ratelimit.hit(session, ratelimit.PREFERENCES_CLIENT, client, now=now)
    by_token = ratelimit.hit(session, ratelimit.PREFERENCES_TOKEN, subscriber.token, now=now)
    session.commit()
    for decision in (by_client, by_token):
        if not decision.allowed:
            return _too_many(request, decision.retry_after)
    if not check_form_token(
        settings.verification_keys, subscriber.token, csrf, now=int(now.timestamp())
    ):
        return _message(
            request,
            "Please try again",
            "This form has expired or did not come from our page. Nothing was changed.",
            preferences=preferences_url(settings, subscriber.token),
            status_code=403,
        )
    if action == "leave":
        unsubscribe(
            session,
            subscriber,
            now=now,
            source=EventSource.web,
            method="POST",
            user_agent=request.headers.get("user-agent"),
        )
        session.commit()
        return _preferences_page(
            request, session, subscriber, settings=settings, now=now, saved=True
        )
    if action == "resubscribe":
        resubscribe(session, subscriber, now=now, source="preference centre")
        session.commit()
        return _preferences_page(
            request, session, subscriber, settings=settings, now=now, saved=True
        )
    if action != "save":
        return _preferences_page(
            request,
            session,
            subscriber,
            settings=settings,
            now=now,
            status_code=400,
            error="Unknown action.",
        )
    prefs = Preferences(agency=agency, children=bool(children), adults=bool(adults))
    try:
        set_preferences(session, subscriber, prefs, now=now)
    except SubscriberError as exc:
        session.rollback()
        session.refresh(subscriber)
        message = str(exc)
        return _preferences_page(
            request,
            session,
            subscriber,
            settings=settings,
            now=now,
            status_code=400,
            error=message[:1].upper() + message[1:] + ".",
        )
    session.commit()
    return _preferences_page(request, session, subscriber, settings=settings, now=now, saved=True)
