"""Public sign-up: ``/subscribe`` and the confirmation link ``/subscribe/confirm/{token}``.

* ``GET /subscribe``: name, work email, audiences, and the consent wording the person agrees
  to (stored with the sign-up). Usable without JavaScript.
* ``POST /subscribe``: errors in the input are shown with an error summary. When the email's
  domain belongs to several agencies (a council's children's and adults' services) the next
  page asks which; one agency is preselected; an unknown domain goes to "other" or is refused
  (NEWSLETTER_SIGNUP_UNKNOWN_DOMAINS). Then, whatever the address's history, the same
  "check your email" page: whether the address is known is never revealed. Only a pending
  record is stored, and a confirmation email sent (at most three an hour per address).
* A filled honeypot field (hidden from people) gets the same answer and nothing is done.
* ``GET /subscribe/confirm/{token}`` shows a confirm button and changes nothing (link
  scanners fetch every link in a message); ``POST`` confirms. A link used twice, forged or
  expired shows a clear page and changes nothing.
* Every form carries a token signed with the secret key over the time it was issued.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from newsletter import ratelimit
from newsletter.activity import record
from newsletter.config import Settings
from newsletter.models import Agency
from newsletter.subscribers import (
    CONFIRM_WITHIN,
    AddressError,
    ConfirmState,
    FieldError,
    SignupRefused,
    SignupRequest,
    agency_choice,
    check_token,
    clean_name,
    confirm_signup,
    consent_wording,
    parse_address,
    request_signup,
)
from newsletter.transports import Batch, Outcome, Recipient, TransportError, make_transport
from newsletter.urls import preferences_url
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.pages import render_page

log = logging.getLogger(__name__)

router = APIRouter()

SIGNUP_PATH = "/subscribe"
FORM_MAX_AGE = 12 * 3600
_MAX = {"name": 200, "email": 320}


def signup_form_token(key: bytes, issued: int) -> str:
    return f"{issued}.{_form_mac(key, issued)}"


def _form_mac(key: bytes, issued: int) -> str:
    return hmac.new(key, f"signup-form|{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def _form_token_ok(key: bytes, value: str, *, now: int) -> bool:
    issued_text, sep, mac = value.partition(".")
    if not sep or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not (now - FORM_MAX_AGE <= issued <= now + 300):
        return False
    return hmac.compare_digest(mac.encode(), _form_mac(key, issued).encode())


def confirm_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}{SIGNUP_PATH}/confirm/{token}"


@dataclass
class _Form:
    name: str = ""
    email: str = ""
    children: bool = False
    adults: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # field -> message, in page order


def _form_page(
    request: Request,
    settings: Settings,
    form: _Form,
    *,
    now: int,
    status_code: int = 200,
) -> HTMLResponse:
    return render_page(
        request,
        "signup_form.html",
        status_code=status_code,
        form=form,
        wording=consent_wording(settings.partnership_name),
        csrf=signup_form_token(settings.secret, now),
        hours=int(CONFIRM_WITHIN.total_seconds() // 3600),
    )


def _check_email_page(request: Request) -> HTMLResponse:
    return render_page(
        request,
        "signup_check_email.html",
        hours=int(CONFIRM_WITHIN.total_seconds() // 3600),
    )


@router.get(SIGNUP_PATH, response_class=HTMLResponse)
def signup_page(request: Request, settings: SettingsDep, clock: ClockDep) -> HTMLResponse:
    """The sign-up form."""
    return _form_page(request, settings, _Form(children=False), now=int(clock.now().timestamp()))


@router.post(SIGNUP_PATH, response_class=HTMLResponse)
def signup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    children: Annotated[str, Form()] = "",
    adults: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",  # the honeypot: people never see it
) -> HTMLResponse:
    """Ask for a subscription: check the input, then email a confirmation link."""
    now = clock.now()
    stamp = int(now.timestamp())
    form = _Form(
        name=name.strip()[: _MAX["name"] + 1],
        email=email.strip()[: _MAX["email"] + 1],
        children=bool(children),
        adults=bool(adults),
    )
    if not _form_token_ok(settings.secret, csrf, now=stamp):
        form.errors["form"] = "This form has expired: please fill it in again"
        return _form_page(request, settings, form, now=stamp, status_code=400)
    if website.strip():
        log.info("sign-up: honeypot filled; nothing done")
        return _check_email_page(request)
    client = request.client.host if request.client else "unknown"
    if not ratelimit.hit(session, ratelimit.SIGNUP_CLIENT, client, now=now).allowed:
        session.commit()
        return render_page(request, "signup_too_many.html", status_code=429)
    session.commit()
    canonical = _validate(form)
    choice = None
    if canonical is not None:
        try:
            choice = agency_choice(
                session, canonical, unknown_domains=settings.signup_unknown_domains
            )
        except SignupRefused as exc:
            form.errors["email"] = str(exc)
    if form.errors or canonical is None or choice is None:
        return _form_page(request, settings, form, now=stamp, status_code=400)
    slugs = [a.slug for a in choice.agencies]
    if len(slugs) > 1 and agency not in slugs:
        return _agency_page(
            request,
            settings,
            form,
            choice.agencies,
            now=stamp,
            error="Choose the service you work for" if agency else "",
        )
    chosen = agency if agency in slugs else slugs[0]
    token = request_signup(
        session,
        SignupRequest(
            email=canonical,
            name=form.name,
            agency=chosen,
            children=form.children,
            adults=form.adults,
        ),
        key=settings.secret,
        wording=consent_wording(settings.partnership_name),
        now=now,
    )
    session.commit()
    if token is not None:
        agency_name = next(a.name for a in choice.agencies if a.slug == chosen)
        send_confirmation(
            settings, email=canonical, name=form.name, agency=agency_name, token=token
        )
    return _check_email_page(request)


def _validate(form: _Form) -> str | None:
    """Field errors into ``form.errors``; the canonical address when it is usable."""
    canonical = None
    if not form.name:
        form.errors["name"] = "Enter your name"
    elif len(form.name) > _MAX["name"]:
        form.errors["name"] = f"Enter your name in {_MAX['name']} characters or fewer"
    else:
        try:
            clean_name(form.name)  # the rule every way in shares (import, sync, API)
        except FieldError:
            form.errors["name"] = "Enter your name on one line, without special characters"
    if not form.email:
        form.errors["email"] = "Enter your work email address"
    else:
        try:
            parsed = parse_address(form.email)
            if parsed.display_name:
                raise AddressError("enter the address only")
            canonical = parsed.email
        except AddressError:
            form.errors["email"] = (
                "Enter an email address in the correct format, like name@example.org"
            )
    if not (form.children or form.adults):
        form.errors["audiences"] = "Select who you work with"
    return canonical


def _agency_page(
    request: Request,
    settings: Settings,
    form: _Form,
    agencies: tuple[Agency, ...],
    *,
    now: int,
    error: str,
) -> HTMLResponse:
    return render_page(
        request,
        "signup_agency.html",
        status_code=400 if error else 200,
        form=form,
        agencies=agencies,
        error=error,
        csrf=signup_form_token(settings.secret, now),
    )


def send_confirmation(
    settings: Settings, *, email: str, name: str, agency: str, token: str
) -> None:
    hours = int(CONFIRM_WITHIN.total_seconds() // 3600)
    text = (
        f"Hello {name},\n\n"
        f"Someone, we hope you, asked to receive {settings.partnership_name}'s monthly "
        f"learning bulletin at this address, as a member of staff in {agency}.\n\n"
        f"To confirm, open this link within {hours} hours and press the button:\n"
        f"{confirm_url(settings, token)}\n\n"
        "If you did not ask, ignore this email: nothing is kept and you will not hear from "
        "us again.\n"
    )
    batch = Batch(
        subject=f"Confirm your subscription to {settings.partnership_name}'s learning bulletin",
        html=None,
        text=text,
        recipients=[Recipient(delivery_id=None, email=email, name=name, values={})],
        from_address=settings.from_address,
        reply_to=settings.reply_to,
        month=None,
    )
    try:
        transport = make_transport(settings)
    except ValueError as exc:
        log.error("sign-up: no confirmation email sent: %s", exc)
        return
    try:
        results = transport.send(batch)
    except TransportError as exc:
        log.error("sign-up: confirmation email failed: %s", exc)
        return
    finally:
        transport.close()
    for result in results:
        if result.outcome is Outcome.failed:
            log.error("sign-up: confirmation email failed: %s", result.error)


def _link_page(request: Request, state: ConfirmState) -> HTMLResponse:
    if state == ConfirmState.expired:
        return render_page(
            request,
            "signup_link.html",
            status_code=410,
            heading="This link has expired",
            message="Confirmation links work for 72 hours. Nothing was kept: sign up again to "
            "get a new link.",
        )
    return render_page(
        request,
        "signup_link.html",
        status_code=404,
        heading="This link has already been used or is not valid",
        message="If you have already confirmed, you are subscribed and there is nothing more "
        "to do. Otherwise, sign up again to get a new link.",
    )


@router.get(SIGNUP_PATH + "/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """The confirm button (a GET changes nothing: link scanners follow links)."""
    checked = check_token(session, token, key=settings.secret, now=clock.now())
    session.rollback()
    if checked.state != ConfirmState.ready or checked.pending is None:
        return _link_page(request, checked.state)
    return render_page(
        request,
        "signup_confirm.html",
        email=checked.pending.email,
        action=f"{SIGNUP_PATH}/confirm/{token}",
    )


@router.post(SIGNUP_PATH + "/confirm/{token}", response_class=HTMLResponse)
def confirm(
    token: str, request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """Confirm the subscription (once)."""
    now = clock.now()
    checked = check_token(session, token, key=settings.secret, now=now)
    if checked.state != ConfirmState.ready or checked.pending is None:
        session.rollback()
        return _link_page(request, checked.state)
    subscriber = confirm_signup(session, checked.pending, now=now)
    record(
        session,
        actor=f"subscriber:{subscriber.id}",
        action="subscriber.signup_confirmed",
        object=f"subscriber:{subscriber.id}",
        detail=f"confirmed a sign-up to {subscriber.agency} from the emailed link",
        client=request.client.host if request.client else None,
    )
    agency = session.get(Agency, subscriber.agency)
    session.commit()
    return render_page(
        request,
        "signup_done.html",
        email=subscriber.email,
        agency=agency.name if agency else subscriber.agency,
        preferences=preferences_url(settings, subscriber.token),
    )
