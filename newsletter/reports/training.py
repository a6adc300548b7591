"""`report training`: engagement with the bulletins' course links by course, agency and month.

Rows are built from grouped SQL results (``reports.measures``); Python only joins the small
grouped results to the bulletins' links and agencies.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from newsletter.models import Agency, Bulletin, CourseBooking, EventType, Link, RollupLevel
from newsletter.plan import calendar_month, next_key_bound
from newsletter.reports.measures import (
    ZERO,
    Counts,
    MachineRule,
    engagement,
    item_counts,
    machine_rules,
    sent_counts,
)

ITEM_TYPES = (EventType.click, EventType.feedback_yes, EventType.feedback_no)
REACH_TYPES = (
    EventType.open,
    EventType.click,
    EventType.bounce,
    EventType.unsubscribe,
    EventType.complaint,
)
DEFAULT_KINDS = ("course",)
ALL_KINDS = ("course", "briefing", "review", "resource", "feedback")


class ReportError(ValueError):
    """A report was asked for with bad filters (unknown agency, kind...)."""


@dataclass(frozen=True)
class Reach:
    """One bulletin's reach in one agency: the denominators and bulletin-wide measures."""

    month: str  # the bulletin's issue key: 2026-07, or 2026-07-correction for an extra edition
    agency: str
    sent: int
    bounced: int
    opens: Counts
    clickers: Counts  # people who clicked any link
    unsubscribes: Counts
    complaints: Counts = ZERO  # spam reports (the provider's webhook)

    @property
    def delivered(self) -> int:
        """Accepted by the transport and not bounced."""
        return max(self.sent - self.bounced, 0)


@dataclass(frozen=True)
class TrainingRow:
    """One item (course) in one bulletin, for one agency."""

    month: str  # the bulletin's issue key (calendar_month() gives the month it counts in)
    course_id: str
    course: str
    kind: str
    reach: Reach
    clicks: Counts
    feedback_yes: Counts
    feedback_no: Counts
    bookings: int | None = None
    attended: int | None = None

    @property
    def agency(self) -> str:
        return self.reach.agency


@dataclass(frozen=True)
class TrainingReport:
    """What `report training` shows, before small-number suppression (see reports.public)."""

    month_from: str | None
    month_to: str | None
    kinds: tuple[str, ...]
    agencies: dict[str, str]  # slug -> name, in display order
    rows: list[TrainingRow]
    reach: list[Reach]  # every (bulletin, agency) in range, for the funnels
    machine_rules: list[MachineRule]
    unmatched_bookings: list[CourseBooking] = field(default_factory=list)
    themes: dict[str, str] = field(default_factory=dict)  # month -> theme, every bulletin in range

    @property
    def months(self) -> list[str]:
        """The calendar months with a bulletin in the report (an extra edition counts in its
        month); :attr:`bulletins` lists each bulletin on its own."""
        return sorted({calendar_month(r.month) for r in self.reach})

    @property
    def bulletins(self) -> list[str]:
        """Every bulletin reaching anybody, by issue key (a month and its extra editions)."""
        return sorted({r.month for r in self.reach})


def agency_names(session: Session) -> dict[str, str]:
    rows = session.exec(select(Agency).order_by(col(Agency.position), col(Agency.slug))).all()
    return {a.slug: a.name for a in rows}


def bulletins_in_range(
    session: Session, *, month_from: str | None, month_to: str | None
) -> list[Bulletin]:
    """The bulletins of calendar months ``month_from`` to ``month_to``, extra editions too."""
    query = select(Bulletin).order_by(col(Bulletin.month))
    if month_from:
        query = query.where(col(Bulletin.month) >= month_from)
    if month_to:
        # Keys sort after their month ("2026-07-correction" > "2026-07"): below the next month.
        query = query.where(col(Bulletin.month) < next_key_bound(month_to))
    return list(session.exec(query).all())


def reach_of(session: Session, bulletins: Sequence[Bulletin]) -> dict[tuple[int, str], Reach]:
    """Reach per (bulletin id, agency) for every agency the bulletin was sent to."""
    ids = [b.id for b in bulletins if b.id is not None]
    months = {b.id: b.month for b in bulletins}
    sent = sent_counts(session, bulletin_ids=ids)
    counts = engagement(
        session, level=RollupLevel.bulletin, bulletin_ids=ids, types=[t.value for t in REACH_TYPES]
    )
    keys = set(sent) | {(b, a) for (b, a, _t) in counts if a is not None}
    out: dict[tuple[int, str], Reach] = {}
    for bulletin_id, agency in sorted(keys):

        def get(kind: EventType, b: int = bulletin_id, a: str = agency) -> Counts:
            return counts.get((b, a, kind.value), ZERO)

        out[(bulletin_id, agency)] = Reach(
            month=months[bulletin_id],
            agency=agency,
            sent=sent.get((bulletin_id, agency), 0),
            bounced=get(EventType.bounce).unique_all,
            opens=get(EventType.open),
            clickers=get(EventType.click),
            unsubscribes=get(EventType.unsubscribe),
            complaints=get(EventType.complaint),
        )
    return out


def build_training_report(
    session: Session,
    *,
    month_from: str | None = None,
    month_to: str | None = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: Collection[str] = DEFAULT_KINDS,
) -> TrainingReport:
    """One row per item of ``kinds`` x agency x month, for every agency the item reached
    (targeted items only for their agencies), including rows with no engagement at all."""
    names = agency_names(session)
    if not kinds:
        raise ReportError(f"choose at least one kind: {', '.join(ALL_KINDS)}")
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown:
        raise ReportError(f"unknown kind {', '.join(unknown)}; choose from {', '.join(ALL_KINDS)}")
    if agency is not None and agency not in names:
        raise ReportError(f"unknown agency {agency!r}; known: {', '.join(names)}")
    bulletins = bulletins_in_range(session, month_from=month_from, month_to=month_to)
    ids = [b.id for b in bulletins if b.id is not None]
    reach = reach_of(session, bulletins)
    links = (
        session.exec(
            select(Link)
            .where(col(Link.bulletin_id).in_(ids), col(Link.kind).in_(sorted(kinds)))
            .order_by(col(Link.bulletin_id), col(Link.position))
        ).all()
        if ids
        else []
    )
    items = item_counts(session, bulletin_ids=ids, types=[t.value for t in ITEM_TYPES], links=links)
    # An item may appear in several links of one bulletin (several sections, or one link per
    # targeted agency group); it is one row per agency that saw any of them.
    seen: dict[tuple[int, str], tuple[str, str, str, set[str] | None]] = {}
    for link in links:
        key = link.catalogue_id or link.url
        if course is not None and link.catalogue_id != course:
            continue
        title, audience = link.title, set(link.agencies) if link.agencies else None
        previous = seen.get((link.bulletin_id, key))
        if previous is not None:
            title = previous[0] or title
            prev_aud = previous[3]
            audience = None if prev_aud is None or audience is None else prev_aud | audience
        seen[(link.bulletin_id, key)] = (title, key, str(link.kind), audience)
    bookings = _bookings(session, month_from=month_from, month_to=month_to)
    used: set[tuple[str, str, str]] = set()
    rows: list[TrainingRow] = []
    key_of = {b.id: b.month for b in bulletins}
    in_order = sorted(seen.items(), key=lambda kv: (key_of.get(kv[0][0], ""), kv[0][0]))
    for (bulletin_id, key), (title, _key, kind, audience) in in_order:
        for (b, ag), r in reach.items():
            if b != bulletin_id or (agency is not None and ag != agency):
                continue
            if audience is not None and ag not in audience:
                continue
            # Bookings are imported per calendar month: they go with the first bulletin of the
            # month that carried the course (the month's own before its extra editions).
            booked = (key, ag, calendar_month(r.month))
            booking = bookings.get(booked) if booked not in used else None
            if booking is not None:
                used.add(booked)

            def get(kind_: EventType, b: int = b, ag: str = ag, key: str = key) -> Counts:
                return items.get((b, ag, kind_.value, key), ZERO)

            rows.append(
                TrainingRow(
                    month=r.month,
                    course_id=key,
                    course=title or key,
                    kind=kind,
                    reach=r,
                    clicks=get(EventType.click),
                    feedback_yes=get(EventType.feedback_yes),
                    feedback_no=get(EventType.feedback_no),
                    bookings=booking.bookings if booking else None,
                    attended=booking.attended if booking else None,
                )
            )
    order = {slug: i for i, slug in enumerate(names)}
    rows.sort(key=lambda r: (r.course_id, r.month, order.get(r.agency, len(order)), r.agency))
    kept_reach = [r for r in reach.values() if agency is None or r.agency == agency]
    unmatched = [
        b
        for k, b in sorted(bookings.items())
        if k not in used
        and (agency is None or b.agency == agency)
        and (course is None or b.course_id == course)
    ]
    return TrainingReport(
        month_from=month_from,
        month_to=month_to,
        kinds=tuple(sorted(kinds)),
        agencies={s: n for s, n in names.items() if agency is None or s == agency},
        rows=rows,
        reach=sorted(kept_reach, key=lambda r: (r.month, order.get(r.agency, len(order)))),
        machine_rules=machine_rules(session, bulletin_ids=ids),
        unmatched_bookings=unmatched,
        themes={b.month: b.theme for b in bulletins},
    )


def _bookings(
    session: Session, *, month_from: str | None, month_to: str | None
) -> dict[tuple[str, str, str], CourseBooking]:
    query = select(CourseBooking)
    if month_from:
        query = query.where(col(CourseBooking.month) >= month_from)
    if month_to:
        query = query.where(col(CourseBooking.month) <= month_to)
    return {(b.course_id, b.agency, b.month): b for b in session.exec(query).all()}
