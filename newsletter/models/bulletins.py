"""Bulletins, their per-agency variants and their registered links."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class BulletinStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    scheduled = "scheduled"
    sending = "sending"
    sent = "sent"
    cancelled = "cancelled"
    failed = "failed"
    missed = "missed"
    # A person stopped the send after its batch in flight; only a person resumes it.
    stopped = "stopped"


# The one place that says which status may follow which. Every write goes through
# newsletter.lifecycle.transition(), which checks this table against the row's current status.
TRANSITIONS: dict[BulletinStatus, frozenset[BulletinStatus]] = {
    BulletinStatus.draft: frozenset(
        {
            BulletinStatus.draft,
            BulletinStatus.approved,
            BulletinStatus.cancelled,
            BulletinStatus.missed,
        }
    ),
    BulletinStatus.approved: frozenset(
        {
            BulletinStatus.draft,  # a rebuild withdraws the approval
            BulletinStatus.scheduled,
            BulletinStatus.sending,
            BulletinStatus.cancelled,
            BulletinStatus.missed,
        }
    ),
    BulletinStatus.scheduled: frozenset(
        {
            BulletinStatus.draft,
            BulletinStatus.sending,
            BulletinStatus.cancelled,
            BulletinStatus.missed,
        }
    ),
    BulletinStatus.sending: frozenset(
        {
            BulletinStatus.sent,
            BulletinStatus.failed,
            BulletinStatus.sending,
            BulletinStatus.stopped,
        }
    ),
    BulletinStatus.stopped: frozenset({BulletinStatus.sending, BulletinStatus.cancelled}),
    BulletinStatus.sent: frozenset({BulletinStatus.sending}),  # --retry-unknown reopens a send
    BulletinStatus.failed: frozenset({BulletinStatus.sending, BulletinStatus.cancelled}),
    BulletinStatus.missed: frozenset(
        {
            BulletinStatus.sending,
            BulletinStatus.draft,
            BulletinStatus.approved,  # a person approves it to send late, by hand
            BulletinStatus.cancelled,
        }
    ),
    BulletinStatus.cancelled: frozenset({BulletinStatus.draft}),
}


class LinkKind(StrEnum):
    course = "course"
    briefing = "briefing"
    review = "review"
    resource = "resource"
    feedback = "feedback"
    # Links the template adds rather than the plan:
    honeypot = "honeypot"
    archive = "archive"
    other = "other"


class Bulletin(SQLModel, table=True):
    """One bulletin, assembled. ``month`` is its issue key (newsletter.plan.issuekey): 'YYYY-MM'
    for a month's bulletin, 'YYYY-MM-<edition>' for an extra edition of that month."""

    id: int | None = Field(default=None, primary_key=True)
    # 48 = plan.issuekey.KEY_MAX: 'YYYY-MM-' and an edition name of up to 40 characters.
    month: str = Field(max_length=48, unique=True)
    theme: str = Field(max_length=300)
    subject: str = Field(max_length=300)
    preheader: str = Field(default="", max_length=300)
    for_children: bool = True
    for_adults: bool = False
    status: BulletinStatus = Field(default=BulletinStatus.draft, sa_type=String(20), index=True)
    # SHA-256 of the plan files (the revision) this draft was built from.
    plan_hash: str = Field(default="", max_length=64)
    # SHA-256 of what the bulletin's own month is built from (newsletter.plan.digest): when the
    # month's fingerprint in the plan differs, the bulletin is out of date. Empty on rows built
    # before it existed: those are judged by plan_hash.
    month_hash: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    # The slot (UTC) this bulletin is due to go out; shown in NEWSLETTER_TIMEZONE.
    send_at: datetime | None = None
    schedule_paused: bool = False
    checks_passed: bool = False
    # [{"name": ..., "passed": bool, "detail": ..., "agency": ...}, ...]
    checks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    built_at: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str | None = Field(default=None, max_length=320)
    send_started_at: datetime | None = None
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Variant(SQLModel, table=True):
    """The bulletin rendered (and CSS-inlined) once for one agency, with placeholders."""

    __table_args__ = (UniqueConstraint("bulletin_id", "agency"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    agency: str = Field(foreign_key="agency.slug", max_length=40)
    subject: str = Field(max_length=300)
    html: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    html_bytes: int = 0
    link_count: int = 0


class Link(SQLModel, table=True):
    """A registered link of one bulletin. Redirect targets come from here, never from a URL."""

    __table_args__ = (UniqueConstraint("bulletin_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    position: int
    section: str = Field(default="", max_length=200)
    kind: LinkKind = Field(sa_type=String(20))
    catalogue_id: str | None = Field(default=None, max_length=100, index=True)
    title: str = Field(default="", max_length=300)
    # The plan's target URL, without our UTM parameters (added per agency: see urls.with_utm).
    url: str = Field(max_length=2000)
    # Agencies whose variant shows this link; NULL means every agency.
    agencies: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
