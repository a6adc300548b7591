"""Agencies, subscribers and the suppression list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class Audience(StrEnum):
    """Which workforce a subscriber (or a theme) serves."""

    children = "children"
    adults = "adults"


class SubscriberStatus(StrEnum):
    active = "active"
    unsubscribed = "unsubscribed"
    bounced = "bounced"
    complained = "complained"
    erased = "erased"
    # No longer on the agency's own list (agency sync): kept for reports, never emailed, made
    # active again if the agency's list names them again. Distinct from unsubscribed: the
    # person did not ask to leave, and an unsubscribed person is never brought back by a list.
    left = "left"


class Source(StrEnum):
    """Where a subscriber came from."""

    signup = "signup"  # the public form, confirmed by email (double opt-in)
    agency_list = "agency-list"  # an agency's staff list (sync)
    import_ = "import"  # a CSV import by an admin
    api = "api"  # the JSON API
    sample = "sample"  # the demo's made-up people


class LawfulBasis(StrEnum):
    """The UK GDPR basis on which the partnership holds the address."""

    consent = "consent"  # the person signed up themself
    public_task = "public-task"  # an agency list: the partnership's safeguarding task


class Agency(SQLModel, table=True):
    """A partner organisation type: the segment key of every list and report."""

    slug: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    # Email domains typical of the agency (nhs.net, police.uk...), to suggest and flag mismatches.
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    position: int = 0


class Subscriber(SQLModel, table=True):
    """One practitioner's address. After erasure every personal field is cleared."""

    id: int | None = Field(default=None, primary_key=True)
    # Normalised (trimmed, domain case-folded). NULL once erased; unique otherwise.
    email: str | None = Field(default=None, max_length=320, unique=True)
    # tokens.address_hash(email): lets SQL match the suppression list. NULL once erased.
    address_hash: str | None = Field(default=None, max_length=64, index=True)
    name: str = Field(default="", max_length=200)
    agency: str = Field(foreign_key="agency.slug", max_length=40, index=True)
    serves_children: bool = True
    serves_adults: bool = False
    status: SubscriberStatus = Field(
        default=SubscriberStatus.active, sa_type=String(20), index=True
    )
    # Unguessable, for unsubscribe and preference links (secrets.token_urlsafe).
    token: str = Field(max_length=64, unique=True)
    # Where they came from and on what basis we hold the address; for consent, the ICO's
    # record: how (consent_source), when (consent_at) and what they were told (consent_wording).
    source: str = Field(default=Source.import_.value, max_length=20)
    lawful_basis: str = Field(default=LawfulBasis.public_task.value, max_length=20)
    consent_source: str = Field(default="", max_length=200)
    consent_at: datetime | None = None
    consent_wording: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    status_changed_at: datetime | None = None

    @property
    def audiences(self) -> list[Audience]:
        out = []
        if self.serves_children:
            out.append(Audience.children)
        if self.serves_adults:
            out.append(Audience.adults)
        return out


class Suppression(SQLModel, table=True):
    """An address that must never be mailed again without a person deciding so.

    Keyed by the SHA-256 of the normalised address, so erasure keeps no readable address.
    """

    address_hash: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class PendingSignup(SQLModel, table=True):
    """A sign-up waiting for its confirmation link: nothing else is held until it is used.

    The emailed link carries this row's id and a random secret whose SHA-256 is ``secret_hash``,
    signed with the secret key; it works once, until ``expires_at``, and the row is purged
    after that.
    """

    __tablename__ = "pending_signup"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    name: str = Field(default="", max_length=200)
    agency: str = Field(foreign_key="agency.slug", max_length=40)
    serves_children: bool = True
    serves_adults: bool = False
    secret_hash: str = Field(max_length=64, unique=True)
    consent_wording: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
