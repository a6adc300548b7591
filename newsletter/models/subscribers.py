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
    consent_source: str = Field(default="", max_length=200)
    consent_at: datetime | None = None
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
