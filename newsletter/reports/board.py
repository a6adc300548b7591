"""The board's view of the training report: headline figures against the previous period,
courses grouped by theme month, themes compared, and the course x agency grid.

Everything here is counted from a :class:`TrainingReport` of the period and one of the
period just before it (same length, same filters), so the board sees the same numbers as the
CSV and JSON. Counts stay exact here; small numbers are hidden where they are written
(``reports.wording`` for people, ``reports.public`` for the analysts' formats).

Counting rules, stated once:

- **People reached**: deliveries the transport accepted less bounces (``Reach.delivered``).
- **Opened (indicative)**: unique people with a human-judged open; mail privacy proxies make
  opens unreliable, hence "indicative".
- **Course clicks**: unique people who clicked each course link, added over courses (a person
  who clicked two courses counts twice); machine activity left out.
- **Bookings**: as imported from the learning management system for the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlmodel import Session

from newsletter.plan import calendar_month
from newsletter.reports.measures import MachineRule
from newsletter.reports.training import DEFAULT_KINDS, TrainingReport, build_training_report

__all__ = [
    "AgencyLine",
    "BoardReport",
    "CourseLine",
    "Figure",
    "Period",
    "ThemeMonth",
    "board_from",
    "build_board_report",
]


def _month_theme(themes: dict[str, str], month: str, *, sent: Collection[str]) -> str:
    """The month's theme, then each extra edition of the month that went out, by its title."""
    extras = [
        f"extra edition: {title}"
        for key, title in sorted(themes.items())
        if key != month and key in sent and calendar_month(key) == month
    ]
    return "; ".join([t for t in [themes.get(month, "")] if t] + extras)


def _shift(month: str, by: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + (mon - 1) + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Period:
    """Whole calendar months, first to last inclusive (``YYYY-MM``)."""

    first: str
    last: str

    @property
    def length(self) -> int:
        return (
            (int(self.last[:4]) - int(self.first[:4])) * 12
            + (int(self.last[5:7]) - int(self.first[5:7]))
            + 1
        )

    def before(self) -> Period:
        """The period of the same length that ends the month before this one starts."""
        return Period(_shift(self.first, -self.length), _shift(self.first, -1))


@dataclass(frozen=True)
class Figure:
    """A headline figure with the same figure for the previous period (None: not known)."""

    key: str
    label: str
    value: int | None
    previous: int | None


@dataclass(frozen=True)
class AgencyLine:
    agency: str  # slug, for the CSV; ``name`` for people
    name: str
    clickers: int
    delivered: int


@dataclass(frozen=True)
class CourseLine:
    """One course in one theme month, all agencies together, with the agency breakdown."""

    course_id: str
    course: str
    clickers: int
    clickers_raw: int
    delivered: int  # people reached in the agencies the course was shown to
    bookings: int | None  # None: nothing imported for this course and month
    agencies: list[AgencyLine]


@dataclass(frozen=True)
class ThemeMonth:
    """One calendar month: its bulletin and any extra editions of it, counted together."""

    month: str
    theme: str  # the month's theme; its extra editions' titles follow ("...; extra edition: ...")
    reached: int
    opened: int
    course_clicks: int
    courses: list[CourseLine]


@dataclass(frozen=True)
class Cell:
    """One course in one agency over the whole period (for the heat map or its ranked table)."""

    course: str
    agency: str
    clickers: int
    delivered: int


@dataclass(frozen=True)
class BoardReport:
    period: Period | None  # None: no bulletin in the range asked for, and no range given
    previous: Period | None
    previous_sent: bool  # any bulletin reached anybody in the previous period
    scope: str  # "all agencies; courses", or the filters in words
    kinds: tuple[str, ...]
    headline: list[Figure]
    months: list[ThemeMonth]
    cells: list[Cell]
    agencies: dict[str, str]
    machine_rules: list[MachineRule]
    clicks_raw: int  # course clicks with machine activity included
    unmatched_bookings: int
    training: TrainingReport = field(repr=False)

    @property
    def empty(self) -> bool:
        """Nothing was sent in the period: the report is one line."""
        return not self.months

    def figure(self, key: str) -> Figure:
        return next(f for f in self.headline if f.key == key)


@dataclass
class _Sum:
    course: str
    clickers: int = 0
    clickers_raw: int = 0
    delivered: int = 0
    bookings: int | None = None
    agencies: list[AgencyLine] = field(default_factory=list)


def _clicks_label(kinds: tuple[str, ...]) -> str:
    if kinds == ("course",):
        return "Course clicks"
    return "Clicks on " + ", ".join(f"{k} links" for k in kinds)


def _totals(report: TrainingReport) -> dict[str, int | None]:
    reached = sum(r.delivered for r in report.reach)
    opened = sum(r.opens.unique_human for r in report.reach)
    clicks = sum(row.clicks.unique_human for row in report.rows)
    booked = [row.bookings for row in report.rows if row.bookings is not None]
    booked += [b.bookings for b in report.unmatched_bookings]
    return {
        "reached": reached,
        "opened": opened,
        "clicks": clicks,
        "bookings": sum(booked) if booked else None,
    }


def board_from(
    report: TrainingReport,
    previous: TrainingReport | None,
    *,
    period: Period | None,
    scope: str,
) -> BoardReport:
    """The board's figures from the period's report and the previous period's."""
    names = report.agencies
    if period is None and report.months:
        period = Period(report.months[0], report.months[-1])
    now = _totals(report)
    before = _totals(previous) if previous is not None and previous.reach else None
    labels = {
        "reached": "People reached",
        "opened": "Opened (indicative)",
        "clicks": _clicks_label(report.kinds),
        "bookings": "Bookings",
    }
    headline = [
        Figure(key, label, now[key], before[key] if before is not None else None)
        for key, label in labels.items()
    ]
    reach_by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in report.reach:
        # An extra edition counts in its calendar month's figures (and is listed by its title).
        reach_by_month[calendar_month(r.month)][0] += r.delivered
        reach_by_month[calendar_month(r.month)][1] += r.opens.unique_human
    courses: dict[tuple[str, str], _Sum] = {}
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    titles: dict[str, str] = {}
    for row in report.rows:
        line = courses.setdefault((calendar_month(row.month), row.course_id), _Sum(row.course))
        line.clickers += row.clicks.unique_human
        line.clickers_raw += row.clicks.unique_all
        line.delivered += row.reach.delivered
        if row.bookings is not None:
            line.bookings = (line.bookings or 0) + row.bookings
        line.agencies.append(
            AgencyLine(
                row.agency,
                names.get(row.agency, row.agency),
                row.clicks.unique_human,
                row.reach.delivered,
            )
        )
        titles.setdefault(row.course_id, row.course)
        cell = cells[(row.course_id, row.agency)]
        cell[0] += row.clicks.unique_human
        cell[1] += row.reach.delivered
    months: list[ThemeMonth] = []
    for month in sorted(reach_by_month):
        lines = [
            CourseLine(
                course_id=course_id,
                course=s.course,
                clickers=s.clickers,
                clickers_raw=s.clickers_raw,
                delivered=s.delivered,
                bookings=s.bookings,
                agencies=s.agencies,
            )
            for (m, course_id), s in courses.items()
            if m == month
        ]
        lines.sort(key=lambda c: (-c.clickers, c.course.lower()))
        months.append(
            ThemeMonth(
                month=month,
                theme=_month_theme(report.themes, month, sent=report.bulletins),
                reached=reach_by_month[month][0],
                opened=reach_by_month[month][1],
                course_clicks=sum(c.clickers for c in lines),
                courses=lines,
            )
        )
    return BoardReport(
        period=period,
        previous=period.before() if period is not None else None,
        previous_sent=before is not None,
        scope=scope,
        kinds=report.kinds,
        headline=headline,
        months=months,
        cells=[
            Cell(titles[c], names.get(a, a), n, d)
            for (c, a), (n, d) in sorted(cells.items(), key=lambda kv: titles[kv[0][0]].lower())
        ],
        agencies=names,
        machine_rules=report.machine_rules,
        clicks_raw=sum(row.clicks.unique_all for row in report.rows),
        unmatched_bookings=len(report.unmatched_bookings),
        training=report,
    )


def build_board_report(
    session: Session,
    *,
    month_from: str | None = None,
    month_to: str | None = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: Collection[str] = DEFAULT_KINDS,
) -> BoardReport:
    """The board report of a period (default: every bulletin sent) against the period of the
    same length just before it. ReportError for bad filters, as build_training_report."""
    filters = {"agency": agency, "course": course, "kinds": kinds}
    report = build_training_report(session, month_from=month_from, month_to=month_to, **filters)  # type: ignore[arg-type]
    sent = report.months
    first = month_from or (sent[0] if sent else None)
    last = month_to or (sent[-1] if sent else None)
    if first is not None and last is None:
        last = max(first, sent[-1]) if sent else first
    if last is not None and first is None:
        first = min(last, sent[0]) if sent else last
    period = Period(first, last) if first is not None and last is not None else None
    previous = None
    if period is not None:
        before = period.before()
        previous = build_training_report(
            session,
            month_from=before.first,
            month_to=before.last,
            **filters,  # type: ignore[arg-type]
        )
    scope_parts = [report.agencies.get(agency, agency) if agency else "all agencies"]
    if course:
        scope_parts.append(f"course {course}")
    scope_parts.append(", ".join(f"{k} links" for k in report.kinds))
    return board_from(report, previous, period=period, scope="; ".join(scope_parts))
