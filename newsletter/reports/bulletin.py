"""`report bulletin MONTH`: one bulletin by agency, by section and link (the click map),
feedback per section, and its top courses."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from newsletter.models import Bulletin, EventType, Link, LinkKind, RollupLevel
from newsletter.reports.measures import (
    ZERO,
    Counts,
    MachineRule,
    engagement,
    item_counts,
    machine_rules,
)
from newsletter.reports.training import (
    ITEM_TYPES,
    Reach,
    ReportError,
    agency_names,
    reach_of,
)


@dataclass(frozen=True)
class LinkLine:
    """One registered link of the bulletin with its clicks across all agencies."""

    position: int
    section: str
    kind: str
    title: str
    catalogue_id: str | None
    clicks: Counts


@dataclass(frozen=True)
class SectionFeedback:
    section: str
    yes: Counts
    no: Counts


@dataclass(frozen=True)
class CourseLine:
    course_id: str
    course: str
    clicks: Counts  # unique people across the links naming the course, all agencies


@dataclass(frozen=True)
class BulletinReport:
    month: str
    theme: str
    subject: str
    agencies: dict[str, str]
    reach: list[Reach]
    links: list[LinkLine]
    feedback: list[SectionFeedback]
    top_courses: list[CourseLine]
    machine_rules: list[MachineRule]

    @property
    def total(self) -> Reach:
        """All agencies together (unique counts add up: each delivery has one agency)."""
        return all_agencies(self.month, self.reach)


def all_agencies(month: str, reach: list[Reach]) -> Reach:
    """The agencies' reach added up (unique counts add up: each delivery has one agency)."""
    return Reach(
        month=month,
        agency="all",
        sent=sum(r.sent for r in reach),
        bounced=sum(r.bounced for r in reach),
        opens=sum((r.opens for r in reach), ZERO),
        clickers=sum((r.clickers for r in reach), ZERO),
        unsubscribes=sum((r.unsubscribes for r in reach), ZERO),
        complaints=sum((r.complaints for r in reach), ZERO),
    )


def build_bulletin_report(session: Session, *, month: str, top: int = 10) -> BulletinReport:
    """The report of the bulletin for ``month``; ReportError when there is none."""
    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None or bulletin.id is None:
        raise ReportError(f"no bulletin for {month}")
    names = agency_names(session)
    order = {slug: i for i, slug in enumerate(names)}
    reach = sorted(
        reach_of(session, [bulletin]).values(),
        key=lambda r: (order.get(r.agency, len(order)), r.agency),
    )
    ids = [bulletin.id]
    types = [t.value for t in ITEM_TYPES]
    per_link = engagement(session, level=RollupLevel.link, bulletin_ids=ids, types=types)
    links = session.exec(
        select(Link).where(col(Link.bulletin_id) == bulletin.id).order_by(col(Link.position))
    ).all()
    per_item = item_counts(session, bulletin_ids=ids, types=types, links=links, per_link=per_link)

    def link_total(link_id: int | None, kind: EventType) -> Counts:
        # Summing over agencies keeps unique counts exact: a delivery has one agency.
        return sum(
            (c for (_b, _a, t, lid), c in per_link.items() if lid == link_id and t == kind.value),
            ZERO,
        )

    lines = [
        LinkLine(
            position=link.position,
            section=link.section,
            kind=str(link.kind),
            title=link.title,
            catalogue_id=link.catalogue_id,
            clicks=link_total(link.id, EventType.click),
        )
        for link in links
    ]
    sections: dict[str, tuple[Counts, Counts]] = {}
    for link in links:
        yes, no = sections.get(link.section, (ZERO, ZERO))
        sections[link.section] = (
            yes + link_total(link.id, EventType.feedback_yes),
            no + link_total(link.id, EventType.feedback_no),
        )
    feedback = [
        SectionFeedback(section=s, yes=y, no=n)
        for s, (y, n) in sections.items()
        if y.events_all or n.events_all
    ]
    courses: dict[str, CourseLine] = {}
    for link in links:
        if link.kind != LinkKind.course:
            continue
        key = link.catalogue_id or link.url
        if key in courses:
            continue
        clicks = sum(
            (
                c
                for (_b, _a, t, item), c in per_item.items()
                if item == key and t == EventType.click.value
            ),
            ZERO,
        )
        courses[key] = CourseLine(course_id=key, course=link.title or key, clicks=clicks)
    top_courses = sorted(
        courses.values(), key=lambda c: (-c.clicks.unique_human, -c.clicks.unique_all, c.course_id)
    )[:top]
    return BulletinReport(
        month=bulletin.month,
        theme=bulletin.theme,
        subject=bulletin.subject,
        agencies=names,
        reach=reach,
        links=lines,
        feedback=feedback,
        top_courses=top_courses,
        machine_rules=machine_rules(session, bulletin_ids=ids),
    )


@dataclass(frozen=True)
class BulletinHeadline:
    """One bulletin's figures at a glance (the staff dashboard): all agencies together."""

    month: str
    theme: str
    reach: Reach  # recipients (sent), delivered, bounces, unique opens and clickers, complaints
    course_clicks: Counts  # people per course clicked, summed over courses (the board's figure)


def bulletin_headline(session: Session, bulletin: Bulletin) -> BulletinHeadline:
    """The headline figures of ``bulletin``, read from the report cache like every report."""
    assert bulletin.id is not None
    reach = list(reach_of(session, [bulletin]).values())
    courses = session.exec(
        select(Link).where(
            col(Link.bulletin_id) == bulletin.id, col(Link.kind) == LinkKind.course.value
        )
    ).all()
    clicks = item_counts(
        session, bulletin_ids=[bulletin.id], types=[EventType.click.value], links=courses
    )
    return BulletinHeadline(
        month=bulletin.month,
        theme=bulletin.theme,
        reach=all_agencies(bulletin.month, reach),
        course_clicks=sum(clicks.values(), ZERO),
    )
