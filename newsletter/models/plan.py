"""The plan as revisions: every save or import of the plan is a new, numbered row.

A revision holds the plan's documents as text, exactly the files of ``campaigns/``
(``plan.yaml``, ``catalogue/*.yaml``, ``themes/*.yaml``), so that reading, checking and line
numbers stay one code path (:mod:`newsletter.plan`). The revision with the highest number is
the current plan; a revision is written only after it passed every check, so a plan with errors
is never current. ``number`` is unique and each new revision takes its parent's number plus
one: two people saving over the same revision cannot both win.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class PlanRevision(SQLModel, table=True):
    __tablename__ = "plan_revision"

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    # The revision this one was made from (None for the first); restore names the old one here.
    parent: int | None = None
    restored_from: int | None = None
    # "import", "save", "restore" or "first start".
    action: str = Field(max_length=20)
    author: str = Field(max_length=320)
    message: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    # SHA-256 over the documents (the same digest as a plan read from files): bulletins record
    # it as their plan hash, so a bulletin names the revision it was built from.
    digest: str = Field(max_length=64, index=True)
    # {"plan.yaml": "...", "catalogue/items.yaml": "...", "themes/2026-07.yaml": "..."}
    documents: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
