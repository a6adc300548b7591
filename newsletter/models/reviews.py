"""A bulletin's review: requests for approval, rejections with their comment, approvals.

Append-only rows, newest last. An approval records exactly what was approved: the plan
revision the bulletin was built from and a SHA-256 of each agency's built variant (subject,
HTML and text), so that any later change to the month can be shown as "out of date".
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class ReviewAction(StrEnum):
    asked = "asked"
    rejected = "rejected"
    approved = "approved"


class BulletinReview(SQLModel, table=True):
    __tablename__ = "bulletin_review"

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    month: str = Field(max_length=48, index=True)  # the bulletin's issue key
    action: ReviewAction = Field(sa_type=String(20))
    by: str = Field(max_length=320)
    comment: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The plan revision the bulletin was built from (None: built from files, no revision).
    revision: int | None = None
    plan_hash: str = Field(default="", max_length=64)
    # {"agency": "sha256 of subject, HTML and text"} of the variants reviewed.
    variants: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)
