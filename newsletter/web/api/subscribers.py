"""``/api/v1/subscribers``: add (double opt-in unless the token may skip it), look up,
unsubscribe, erase."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.apitokens import actor
from newsletter.models import (
    Agency,
    ApiToken,
    EventSource,
    LawfulBasis,
    Scope,
    Source,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.subscribers import (
    AddressError,
    FieldError,
    SignupRefused,
    SignupRequest,
    agency_choice,
    audiences_text,
    clean_name,
    consent_wording,
    erase,
    find_by_email,
    new_token,
    parse_address,
    request_signup,
    subject_access,
    unsubscribe,
)
from newsletter.web.api.auth import client_of, scoped
from newsletter.web.api.errors import ApiError
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.signup import send_confirmation

router = APIRouter(prefix="/subscribers", tags=["subscribers"])

Writer = Annotated[ApiToken, Depends(scoped(Scope.subscribers_write))]
Reader = Annotated[ApiToken, Depends(scoped(Scope.subscribers_read))]
AudienceName = Literal["children", "adults"]
Email = Annotated[str, Path(examples=["jo.bloggs@police.example.org"])]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No subscriber with that address."}
}


class NewSubscriber(BaseModel):
    """A person to add."""

    email: str = Field(max_length=320, examples=["jo.bloggs@police.example.org"])
    name: str = Field(default="", max_length=200)

    @field_validator("name")
    @classmethod
    def _name_rule(cls, value: str) -> str:
        # The rule every way in shares (import, sign-up, sync): no line breaks or control
        # characters, which would forge headers in the messages this person receives.
        try:
            return clean_name(value)
        except FieldError as exc:
            raise ValueError(exc.reason) from None

    agency: str | None = Field(
        default=None,
        max_length=40,
        description="An agency slug; by default the agency the email's domain belongs to.",
    )
    audiences: list[AudienceName] = Field(min_length=1, max_length=2, examples=[["children"]])
    confirmed: bool = Field(
        default=False,
        description="Add at once, without the confirmation email (needs the "
        "subscribers:skip-confirmation scope: for a feed that vouches for its staff).",
    )


class SubscriberOut(BaseModel):
    """Everything held about one person."""

    email: str
    name: str
    agency: str
    audiences: list[str]
    status: str
    status_changed_at: datetime | None
    source: str
    lawful_basis: str
    consent_source: str
    consent_at: datetime | None
    consent_wording: str
    created_at: datetime
    updated_at: datetime
    suppressed: str | None = Field(description="Why the address is suppressed, if it is.")
    deliveries: int
    events: dict[str, int]


class Accepted(BaseModel):
    status: Literal["confirmation_sent"] = "confirmation_sent"
    message: str


class Changed(BaseModel):
    email: str
    status: str
    changed: bool


def _out(session: Session, subscriber: Subscriber) -> SubscriberOut:
    held = subject_access(session, subscriber)
    s = held.subscriber
    return SubscriberOut(
        email=s.email or "",
        name=s.name,
        agency=s.agency,
        audiences=audiences_text(s).split(";") if audiences_text(s) else [],
        status=str(s.status),
        status_changed_at=s.status_changed_at,
        source=s.source,
        lawful_basis=s.lawful_basis,
        consent_source=s.consent_source,
        consent_at=s.consent_at,
        consent_wording=s.consent_wording,
        created_at=s.created_at,
        updated_at=s.updated_at,
        suppressed=held.suppressed,
        deliveries=len(held.deliveries),
        events=held.events,
    )


def _canonical(email: str) -> str:
    try:
        parsed = parse_address(email)
    except AddressError as exc:
        raise ApiError(
            422, "the request is not valid", fields=[{"field": "email", "message": str(exc)}]
        ) from None
    if parsed.display_name:
        raise ApiError(
            422,
            "the request is not valid",
            fields=[{"field": "email", "message": "the address only, without a name"}],
        )
    return parsed.email


def _found(session: Session, email: str) -> Subscriber:
    subscriber = find_by_email(session, email)
    if subscriber is None:
        raise ApiError(404, "no subscriber with that address")
    return subscriber


def _agency(
    session: Session, body: NewSubscriber, email: str, *, unknown: Literal["other", "refuse"]
) -> str:
    if body.agency is not None:
        if session.get(Agency, body.agency) is None:
            raise ApiError(
                422,
                "the request is not valid",
                fields=[{"field": "agency", "message": f"unknown agency {body.agency!r}"}],
            )
        return body.agency
    try:
        choice = agency_choice(session, email, unknown_domains=unknown)
    except SignupRefused as exc:
        raise ApiError(
            422, "the request is not valid", fields=[{"field": "email", "message": str(exc)}]
        ) from None
    if len(choice.agencies) > 1:
        slugs = ", ".join(a.slug for a in choice.agencies)
        raise ApiError(
            422,
            "the request is not valid",
            fields=[{"field": "agency", "message": f"the domain belongs to several: {slugs}"}],
        )
    return choice.agencies[0].slug


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses={
        201: {"model": SubscriberOut, "description": "Added at once (confirmed)."},
        409: {
            "description": "Not added at once: the address has unsubscribed, bounced, "
            "complained or been erased (only the person can come back, by signing up)."
        },
    },
)
def add_subscriber(
    body: NewSubscriber,
    request: Request,
    token: Writer,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> JSONResponse | Accepted:
    """Add a subscriber: a confirmation email (double opt-in), or at once when confirmed."""
    now = clock.now()
    email = _canonical(body.email)
    agency = _agency(db, body, email, unknown=settings.signup_unknown_domains)
    children, adults = "children" in body.audiences, "adults" in body.audiences
    if body.confirmed:
        if Scope.subscribers_skip_confirmation.value not in token.scopes:
            raise ApiError(403, "this token lacks the subscribers:skip-confirmation scope")
        subscriber = _add_confirmed(
            db,
            token,
            email=email,
            name=body.name,
            agency=agency,
            audiences=(children, adults),
            now=now,
        )
        record(
            db,
            actor=actor(token),
            action="subscriber.add",
            object=f"subscriber:{subscriber.id}",
            detail=f"added through the API to {agency}",
            client=client_of(request),
        )
        out = _out(db, subscriber)
        db.commit()
        return JSONResponse(out.model_dump(mode="json"), status_code=201)
    secret = request_signup(
        db,
        SignupRequest(email=email, name=body.name, agency=agency, children=children, adults=adults),
        key=settings.secret,
        wording=consent_wording(settings.partnership_name),
        now=now,
    )
    record(
        db,
        actor=actor(token),
        action="subscriber.signup_requested",
        object=f"agency:{agency}",
        detail="confirmation email requested through the API",
        client=client_of(request),
    )
    db.commit()
    if secret is not None:
        agency_row = db.get(Agency, agency)
        send_confirmation(
            settings,
            email=email,
            name=body.name,
            agency=agency_row.name if agency_row else agency,
            token=secret,
        )
    return Accepted(
        message="If the address can receive the bulletin, it has been sent a link to confirm."
    )


def _add_confirmed(
    db: Session,
    token: ApiToken,
    *,
    email: str,
    name: str,
    agency: str,
    audiences: tuple[bool, bool],
    now: datetime,
) -> Subscriber:
    existing = db.exec(select(Subscriber).where(col(Subscriber.email) == email)).first()
    suppressed = db.exec(
        select(Suppression).where(
            col(Suppression.address_hash) == parse_address(email).address_hash
        )
    ).first()
    if suppressed is not None or (
        existing is not None
        and existing.status not in (SubscriberStatus.active, SubscriberStatus.left)
    ):
        raise ApiError(
            409,
            "this address has unsubscribed, bounced, complained or been erased: only the person "
            "can come back, through the sign-up form's confirmation",
        )
    children, adults = audiences
    if existing is None:
        existing = Subscriber(
            email=email,
            address_hash=parse_address(email).address_hash,
            token=new_token(),
            agency=agency,
            created_at=now,
            source=Source.api.value,
        )
    elif existing.status == SubscriberStatus.left:
        existing.status_changed_at = now
    existing.status = SubscriberStatus.active
    existing.name = name or existing.name
    existing.agency = agency
    existing.serves_children, existing.serves_adults = children, adults
    existing.lawful_basis = LawfulBasis.public_task.value
    existing.consent_source = f"added through the API by the token {token.name!r}"
    existing.consent_at = now
    existing.updated_at = now
    db.add(existing)
    db.flush()
    return existing


@router.get("/{email}", response_model=SubscriberOut, responses=NOT_FOUND)
def get_subscriber(email: Email, token: Reader, db: SessionDep) -> SubscriberOut:
    """Everything held about one subscriber (a subject access request)."""
    return _out(db, _found(db, email))


@router.post("/{email}/unsubscribe", response_model=Changed, responses=NOT_FOUND)
def unsubscribe_subscriber(
    email: Email, request: Request, token: Writer, db: SessionDep, clock: ClockDep
) -> Changed:
    """Unsubscribe at once (safe to repeat: ``changed`` says whether anything changed)."""
    subscriber = _found(db, email)
    changed = unsubscribe(db, subscriber, now=clock.now(), source=EventSource.system)
    if changed:
        record(
            db,
            actor=actor(token),
            action="subscriber.unsubscribe",
            object=f"subscriber:{subscriber.id}",
            client=client_of(request),
        )
    db.commit()
    return Changed(email=subscriber.email or "", status=str(subscriber.status), changed=changed)


@router.delete("/{email}", response_model=Changed, responses=NOT_FOUND)
def erase_subscriber(
    email: Email, request: Request, token: Writer, db: SessionDep, clock: ClockDep
) -> Changed:
    """Erase a person's data: the address is suppressed, agency-level history kept."""
    subscriber = _found(db, email)
    shown = subscriber.email or ""
    erase(db, subscriber, now=clock.now())
    record(
        db,
        actor=actor(token),
        action="subscriber.erase",
        object=f"subscriber:{subscriber.id}",
        client=client_of(request),
    )
    db.commit()
    return Changed(email=shown, status=str(SubscriberStatus.erased), changed=True)
