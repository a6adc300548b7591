"""Tables the reports own: rolled-up events (retention) and course bookings (outcomes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow
from newsletter.models.deliveries import Delivery
from newsletter.models.events import Event


class RollupLevel(StrEnum):
    """The grouping a rolled-up row answers. Unique counts cannot be summed across groupings
    (one person clicking two links is one clicker of the bulletin), so each is kept."""

    link = "link"  # (bulletin, agency, type, link): the click map
    item = "item"  # (bulletin, agency, type, item key): a course across the links naming it
    bulletin = "bulletin"  # (bulletin, agency, type): opens, bounces, unsubscribes, reach


class EventRollup(SQLModel, table=True):
    """Counts of raw events that were rolled up and deleted (see reports.rollup).

    ``deliveries_*`` count distinct deliveries whose every event of the group was rolled up
    (a delivery with a newer raw event in the same group is counted from the raw side), so
    rolled-up plus raw distinct counts equal the distinct count over all events.
    ``anonymous_*`` count events without a delivery (agency tracking mode, archive views):
    each is taken as one person, as on the raw side.
    """

    __tablename__ = "event_rollup"
    __table_args__ = (Index("ix_event_rollup_level_bulletin", "level", "bulletin_id"),)

    id: int | None = Field(default=None, primary_key=True)
    level: RollupLevel = Field(sa_type=String(10))
    bulletin_id: int | None = Field(default=None, foreign_key="bulletin.id")
    agency: str | None = Field(default=None, max_length=40)
    type: str = Field(max_length=20)
    link_id: int | None = None
    item_key: str | None = Field(default=None, max_length=300)
    events_all: int = 0
    events_human: int = 0
    deliveries_all: int = 0
    deliveries_human: int = 0
    anonymous_all: int = 0
    anonymous_human: int = 0
    rolled_up_at: datetime = Field(default_factory=utcnow)


class MachineReasonRollup(SQLModel, table=True):
    """How rolled-up machine events were identified, so reports can still say so."""

    __tablename__ = "machine_reason_rollup"

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int | None = Field(default=None, foreign_key="bulletin.id", index=True)
    rules_version: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=100)
    events: int = 0


class BulletinEventsVersion(SQLModel, table=True):
    """Bumped in the same transaction as every write to a bulletin's events (insert, delete,
    a machine flag changed...) by ``newsletter.eventlog``; the report cache is valid for
    one version. No row means version 0 (no event written through the writers yet).

    ``rewritten`` is the version of the last write that did more than append new events
    (a deletion, a machine flag, links rebuilt...): while it is not newer than the cached
    version, the cache can be brought up to date from the new events alone (reports.cache)."""

    __tablename__ = "bulletin_events_version"

    bulletin_id: int = Field(foreign_key="bulletin.id", primary_key=True)
    version: int = 0
    rewritten: int = 0


class ReportCacheState(SQLModel, table=True):
    """Which events version of a bulletin the cached rows (report_cache, report_cache_reason)
    were computed from. No row: nothing cached for that bulletin."""

    __tablename__ = "report_cache_state"

    bulletin_id: int = Field(foreign_key="bulletin.id", primary_key=True)
    version: int = 0
    computed_at: datetime = Field(default_factory=utcnow)
    # The highest id of the bulletin's events counted in the cached rows (None: unknown, as
    # for rows cached before migration 0013; the next refresh recomputes those).
    watermark: int | None = None


class ReportCache(SQLModel, table=True):
    """A bulletin's events aggregated per group of ``level`` and type, raw and rolled-up events
    together (same measures as EventRollup; see reports.cache). Item rows exist only for items on
    several links of the bulletin; an item on one link has that link's row."""

    __tablename__ = "report_cache"
    __table_args__ = (Index("ix_report_cache_bulletin_level", "bulletin_id", "level", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id")
    level: RollupLevel = Field(sa_type=String(10))
    agency: str | None = Field(default=None, max_length=40)
    type: str = Field(max_length=20)
    link_id: int | None = None
    item_key: str | None = Field(default=None, max_length=300)
    events_all: int = 0
    events_human: int = 0
    deliveries_all: int = 0
    deliveries_human: int = 0
    anonymous_all: int = 0
    anonymous_human: int = 0


class ReportCacheReason(SQLModel, table=True):
    """How a bulletin's machine events were identified (cached beside report_cache)."""

    __tablename__ = "report_cache_reason"

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id", index=True)
    rules_version: str | None = Field(default=None, max_length=20)
    reason: str | None = Field(default=None, max_length=100)
    events: int = 0


class CourseBooking(SQLModel, table=True):
    """Bookings and attendance of one course by one agency in one month, as imported from a
    learning management system's export (report import-bookings)."""

    __tablename__ = "course_booking"
    __table_args__ = (UniqueConstraint("course_id", "agency", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    course_id: str = Field(max_length=100)
    agency: str = Field(max_length=40)
    month: str = Field(max_length=7, index=True)
    bookings: int = 0
    attended: int = 0
    imported_at: datetime = Field(default_factory=utcnow)


# Indexes the report queries need on tables other areas own, declared here so those models stay
# theirs. Every report groups events of some bulletins by (type, agency[, link]) and counts
# distinct deliveries with and without machine events: this index covers that scan entirely.
Index(
    "ix_event_report",
    Event.__table__.c.bulletin_id,  # type: ignore[attr-defined]
    Event.__table__.c.type,  # type: ignore[attr-defined]
    Event.__table__.c.agency,  # type: ignore[attr-defined]
    Event.__table__.c.link_id,  # type: ignore[attr-defined]
    Event.__table__.c.machine,  # type: ignore[attr-defined]
    Event.__table__.c.delivery_id,  # type: ignore[attr-defined]
)
# Delivered per agency (the denominators): count sent deliveries per (bulletin, agency).
Index(
    "ix_delivery_bulletin_agency_status",
    Delivery.__table__.c.bulletin_id,  # type: ignore[attr-defined]
    Delivery.__table__.c.agency,  # type: ignore[attr-defined]
    Delivery.__table__.c.status,  # type: ignore[attr-defined]
)
# How machine activity was identified: only machine events, so a small partial index.
Index(
    "ix_event_machine_reason",
    Event.__table__.c.bulletin_id,  # type: ignore[attr-defined]
    Event.__table__.c.rules_version,  # type: ignore[attr-defined]
    Event.__table__.c.machine_reason,  # type: ignore[attr-defined]
    sqlite_where=text("machine = 1"),
    postgresql_where=text("machine = true"),
)
