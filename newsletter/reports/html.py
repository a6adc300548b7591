"""The HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no fonts,
no images, no network requests), readable on screen and in print. The web app serves the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment

from newsletter.config import Settings
from newsletter.reports import charts, public
from newsletter.reports.bulletin import BulletinReport
from newsletter.reports.formats import cell_text, paired
from newsletter.reports.public import Column, Value, people, rate
from newsletter.reports.training import TrainingReport
from newsletter.templating import make_environment


@dataclass(frozen=True)
class HtmlTable:
    title: str
    header: list[tuple[str, bool]]
    rows: list[list[tuple[str, bool]]]
    note: str = ""


def _env() -> Environment:
    return make_environment(Path(__file__).parent / "templates")


def html_table(
    title: str, columns: Sequence[Column], records: Sequence[dict[str, Value]], note: str = ""
) -> HtmlTable:
    """A table whose cells read ``human (raw)`` wherever a measure has a raw twin."""
    pairs = paired(columns)
    header = [(c.label + (" (raw)" if t else ""), c.kind != "text") for c, t in pairs]
    rows = []
    for record in records:
        cells = []
        for column, twin in pairs:
            text = cell_text(record.get(column.key), column.kind)
            if twin is not None:
                text += f" ({cell_text(record.get(twin.key), twin.kind)})"
            cells.append((text, column.kind != "text"))
        rows.append(cells)
    return HtmlTable(title, header, rows, note)


def _page(
    *,
    settings: Settings,
    title: str,
    subtitle: str,
    notes: list[str],
    chart_list: list[dict[str, str]],
    tables: list[HtmlTable],
    generated: datetime | None,
) -> str:
    return (
        _env()
        .get_template("report.html")
        .render(
            title=title,
            subtitle=subtitle,
            notes=notes,
            charts=chart_list,
            tables=tables,
            partnership_name=settings.partnership_name,
            brand_colour=settings.brand_colour,
            generated=(generated or datetime.now(settings.zone)).strftime("%d %B %Y %H:%M"),
        )
    )


def training_html(
    report: TrainingReport, *, settings: Settings, generated: datetime | None = None
) -> str:
    """The training report as one HTML document."""
    low = settings.report_min_count
    hidden = public.hidden_label(low) if low > 0 else "hidden"
    period = f"{report.month_from or 'first bulletin'} to {report.month_to or 'latest'}"
    months = report.months
    titles: dict[str, str] = {}
    by_month: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    by_agency: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    has_booking: set[tuple[str, str]] = set()
    for row in report.rows:
        titles.setdefault(row.course_id, row.course)
        m = by_month[(row.course_id, row.month)]
        m[0] += row.clicks.unique_human
        m[1] += row.reach.delivered
        a = by_agency[(row.course_id, row.agency)]
        a[0] += row.clicks.unique_human
        a[1] += row.reach.delivered
        a[2] += row.clicks.events_human
        if row.bookings is not None:
            has_booking.add((row.course_id, row.agency))
            a[3] += row.bookings
            a[4] += row.attended or 0
    for b in report.unmatched_bookings:
        titles.setdefault(b.course_id, b.course_id)
        has_booking.add((b.course_id, b.agency))
        a = by_agency[(b.course_id, b.agency)]
        a[3] += b.bookings
        a[4] += b.attended
    courses = sorted(titles, key=lambda c: titles[c].lower())
    agencies = [s for s in report.agencies if any(k[1] == s for k in by_agency)]
    agencies += sorted({k[1] for k in by_agency} - set(agencies))

    series: dict[str, list[Value]] = {}
    for course in courses:
        values: list[Value] = []
        for month in months:
            clickers, delivered = by_month.get((course, month), (0, 0))
            values.append(rate(clickers, delivered, low) if delivered else None)
        series[titles[course]] = values
    cells = [
        [
            rate(by_agency[(c, a)][0], by_agency[(c, a)][1], low)
            if (c, a) in by_agency and by_agency[(c, a)][1]
            else None
            for a in agencies
        ]
        for c in courses
    ]
    funnel = _funnel_by_month(report, low)
    chart_list = []
    if months:
        chart_list = [
            {
                "title": "Course click-through by month",
                "svg": charts.ctr_by_month(months, series, hidden=hidden),
            },
            {
                "title": "Course x agency heat map",
                "svg": charts.heat_map(
                    [titles[c] for c in courses],
                    [report.agencies.get(a, a) for a in agencies],
                    cells,
                ),
            },
            {"title": "Each bulletin's funnel", "svg": charts.funnels(months, funnel)},
        ]
    outcome_columns = [
        Column("course", "Course", "text"),
        Column("agency", "Agency", "text"),
        Column("clickers", "Unique clickers (human)"),
        Column("clicks", "Clicks (human)"),
        Column("bookings", "Bookings"),
        Column("attended", "Attended"),
    ]
    outcomes: list[dict[str, Value]] = [
        {
            "course": titles[c],
            "agency": report.agencies.get(a, a),
            "clickers": people(by_agency[(c, a)][0], low),
            "clicks": people(by_agency[(c, a)][2], low),
            "bookings": people(by_agency[(c, a)][3], low) if (c, a) in has_booking else None,
            "attended": people(by_agency[(c, a)][4], low) if (c, a) in has_booking else None,
        }
        for c in courses
        for a in agencies
        if (c, a) in by_agency
    ]
    records = public.training_records(report, low)
    tables = [
        html_table(
            "Clicks beside bookings, by course and agency",
            outcome_columns,
            outcomes,
            "Whole period; bookings as imported from the learning management system.",
        ),
        html_table(
            "By course, agency and month",
            public.TRAINING_COLUMNS,
            records,
            "Each figure is human-estimated, with the raw figure (machine activity "
            "included) in brackets.",
        ),
    ]
    return _page(
        settings=settings,
        title="Training links: engagement by course, agency and month",
        subtitle=f"{period} · kinds: {', '.join(report.kinds)}",
        notes=[
            public.machine_statement(report.machine_rules),
            public.suppression_statement(low),
            "Click-through = unique human clickers / delivered (sent less bounced), per agency.",
        ],
        chart_list=chart_list,
        tables=tables,
        generated=generated,
    )


def _funnel_by_month(report: TrainingReport, low: int) -> dict[str, list[Value]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in report.reach:
        t = totals[r.month]
        t[0] += r.delivered
        t[1] += r.opens.unique_human
        t[2] += r.clickers.unique_human
    months = report.months
    return {
        "Delivered": [people(totals[m][0], low) for m in months],
        "Opened (indicative)": [people(totals[m][1], low) for m in months],
        "Clicked": [people(totals[m][2], low) for m in months],
    }


def bulletin_html(
    report: BulletinReport, *, settings: Settings, generated: datetime | None = None
) -> str:
    """One bulletin's report as one HTML document."""
    low = settings.report_min_count
    agencies = public.bulletin_agency_records(report, low)
    names = [report.agencies.get(str(r["agency"]), str(r["agency"])) for r in agencies]
    for record, name in zip(agencies, names, strict=True):
        record["agency"] = name if record["agency"] != "all" else "All agencies"
    stages: dict[str, list[Value]] = {
        "Delivered": [r["delivered"] for r in agencies],
        "Opened (indicative)": [r["opens"] for r in agencies],
        "Clicked": [r["clickers"] for r in agencies],
    }
    chart_list = []
    if report.reach:
        labels = [str(r["agency"]) for r in agencies]
        chart_list = [{"title": "Funnel by agency", "svg": charts.funnels(labels, stages)}]
    tables: list[Any] = [
        html_table("By agency", public.BULLETIN_AGENCY_COLUMNS, agencies),
        html_table(
            "Click map: by section and link",
            public.LINK_COLUMNS,
            public.link_records(report, low),
            "All agencies together.",
        ),
        html_table(
            "Feedback per section", public.FEEDBACK_COLUMNS, public.feedback_records(report, low)
        ),
        html_table("Top courses", public.COURSE_COLUMNS, public.course_records(report, low)),
    ]
    return _page(
        settings=settings,
        title=f"Bulletin {report.month}: {report.theme}",
        subtitle=report.subject,
        notes=[
            public.machine_statement(report.machine_rules),
            public.suppression_statement(low),
            "Each figure is human-estimated, with the raw figure in brackets.",
        ],
        chart_list=chart_list,
        tables=tables,
        generated=generated,
    )
