"""API tokens for /api/v1/: stored hashed, scoped, revocable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class Scope(StrEnum):
    """What a token may do."""

    subscribers_read = "subscribers:read"  # look a subscriber up
    subscribers_write = "subscribers:write"  # add (double opt-in), unsubscribe, erase
    # Add people as confirmed, skipping the confirmation email (an HR or intranet feed that
    # vouches for its staff: lawful basis public task, not consent).
    subscribers_skip_confirmation = "subscribers:skip-confirmation"
    reports_read = "reports:read"  # the training report as JSON


class ApiToken(SQLModel, table=True):
    """One API token. Only the SHA-256 of the secret is kept: it is shown once, at creation."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    prefix: str = Field(max_length=16)  # the secret's first characters, to recognise it
    secret_hash: str = Field(max_length=64, unique=True)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=320)
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=320)
    last_used_at: datetime | None = None
