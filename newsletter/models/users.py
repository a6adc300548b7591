"""Staff accounts: people, their roles, their signed-in sessions and their emailed links.

A person may hold several roles (``user_role`` rows). Sessions live in the database
(``staff_session``), keyed by a hash of the cookie's random value, so signing out, changing a
password or removing a person ends every copy of the cookie at once. Invitation and reset links
(``account_link``) are stored the same way: only the hash, single use, with an expiry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class Role(StrEnum):
    """What a person may do in the staff app (everyone signed in may read reports)."""

    editor = "editor"  # plan, catalogue, previews, proofs
    approver = "approver"  # approve or reject bulletins
    admin = "admin"  # users, subscribers, tokens, settings


class User(SQLModel, table=True):
    """A member of staff who signs in at /admin/. No password until an invitation is accepted."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    password_hash: str | None = Field(default=None, max_length=300)
    # Base32 TOTP secret; second factor in use once totp_confirmed_at is set.
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_confirmed_at: datetime | None = None
    # The last TOTP time step accepted: a code is good once (no replay within its 30 s).
    totp_last_step: int | None = None
    # Too many wrong passwords: refused (even the right one) until this time.
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime | None = None
    last_sign_in_at: datetime | None = None


class UserRole(SQLModel, table=True):
    """One role held by one person."""

    __tablename__ = "user_role"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    role: Role = Field(sa_type=String(20))


class SessionStage(StrEnum):
    """How far a browser has got through signing in."""

    second_factor = "second_factor"  # password accepted; the TOTP code is due
    enrol = "enrol"  # password accepted; an admin must set up a second factor first
    signed_in = "signed_in"


class StaffSession(SQLModel, table=True):
    """One browser's session: the cookie holds a random value, the table its SHA-256."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    stage: SessionStage = Field(sa_type=String(20))
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    # A one-off message for the next page (Post/Redirect/Get's notification banner).
    flash: str | None = Field(default=None, max_length=500)
    client: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class LinkPurpose(StrEnum):
    invite = "invite"
    reset = "reset"


class AccountLink(SQLModel, table=True):
    """An emailed invitation or password-reset link: single use, expiring, stored hashed."""

    __tablename__ = "account_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="staff_user.id", index=True)
    purpose: LinkPurpose = Field(sa_type=String(20))
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
