"""Administrators of the web app."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class AdminUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    password_hash: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
