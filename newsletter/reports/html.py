"""The HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no fonts,
no images, no network requests), readable on screen and in print. The web app serves the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from newsletter.config import Settings
from newsletter.reports import charts, public, terminal
from newsletter.reports import wording as w
from newsletter.reports.board import AgencyLine, BoardReport, CourseLine
from newsletter.reports.bulletin import BulletinReport
from newsletter.reports.formats import cell_text, paired
from newsletter.reports.public import Column, Value
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
            partnership_name_css=css_string(settings.partnership_name),
            brand_colour=settings.brand_colour,
            generated=_when(generated, settings),
        )
    )


def css_string(text: str) -> Markup:
    """``text`` as the inside of a CSS string in a <style> element (where HTML escapes do
    not apply): quotes, backslashes, newlines and ``<`` written as CSS escapes."""
    out = "".join(f"\\{ord(ch):x} " if ch in "\\\"'<>\n\r&" else ch for ch in text)
    return Markup(out)  # noqa: S704 - every character that could end the string is escaped


CHARTS = ("themes", "trend", "grid")


def board_chart(board: BoardReport, name: str, *, min_count: int) -> str | None:
    """One of the board report's charts (CHARTS) as SVG; None where it has nothing to draw."""
    low = min_count
    if board.empty:
        return None
    clicks_label = board.figure("clicks").label
    if name == "themes":
        ranked = w.ranked_themes(board, low)
        if not ranked:
            return None
        return charts.ranked_bars(
            [f"{w.month_name(m)}: {t}" for m, t, _v in ranked],
            [v for _m, _t, v in ranked],
            title=f"{clicks_label} per 100 people reached, by theme",
            xlabel=f"{clicks_label} per 100 people reached",
        )
    if name == "trend":
        series: dict[str, list[Value]] = {
            "People reached": [],
            "Opened (indicative)": [],
            clicks_label: [],
        }
        for m in board.months:
            for key, n in zip(series, (m.reached, m.opened, m.course_clicks), strict=True):
                series[key].append(None if w.hidden(n, low) else n)
        return charts.trend(
            [w.month_name(m.month) for m in board.months],
            series,
            title=f"People reached, opened and {clicks_label.lower()}, by month",
            ylabel="People",
        )
    if name == "grid":
        svg = _grid(board, low, draw=True)["svg"]
        return svg if isinstance(svg, str) else None
    raise ValueError(f"unknown chart {name!r}")


def _grid(board: BoardReport, low: int, *, draw: bool) -> dict[str, Any]:
    """The course x agency heat map where most cells can be shown, else a ranked table."""
    cells = board.cells
    if not cells:
        return {
            "svg": None,
            "heat": False,
            "note": "No course was shown in this period.",
            "rows": [],
        }
    shown = [(c, w.rate(c.clickers, c.delivered, low)) for c in cells]
    visible = [(c, v) for c, v in shown if v is not None]
    courses = list(dict.fromkeys(c.course for c in cells))
    agencies = [n for n in board.agencies.values() if any(c.agency == n for c in cells)]
    agencies += sorted({c.agency for c in cells} - set(agencies))
    if len(visible) * 2 > len(cells) and len(courses) > 1 and len(agencies) > 1:
        values = {(c.course, c.agency): v for c, v in shown}
        grid = [[values.get((course, a)) for a in agencies] for course in courses]
        svg = (
            charts.heat_map(
                courses, agencies, grid, title="Click-through by course and agency (whole period)"
            )
            if draw
            else None
        )
        return {"svg": svg, "heat": True, "note": "", "rows": []}
    ranked = sorted(visible, key=lambda cv: (-(cv[1] or 0.0), cv[0].course, cv[0].agency))[:10]
    hidden = len(cells) - len(visible)
    note = "Highest click-through by course and agency over the whole period."
    if hidden:
        note += (
            f" {hidden} of {len(cells)} course-and-agency pairs are not shown, since fewer "
            f"than {low} people clicked in them; a heat map would be mostly empty."
        )
    rows = [
        {
            "course": c.course,
            "agency": c.agency,
            "clickers": w.count_text(c.clickers, low),
            "ctr": w.rate_text(c.clickers, c.delivered, low),
        }
        for c, _v in ranked
    ]
    return {"svg": None, "heat": False, "note": note, "rows": rows}


def _agency_rows(courses: list[CourseLine], low: int) -> list[dict[str, Any]]:
    """One row per agency, one cell per course: "7 (14.0%)", "fewer than 5 people (–)" or
    "not shown to this agency"."""
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], AgencyLine] = {}
    for c in courses:
        for a in c.agencies:
            names.setdefault(a.agency, a.name)
            cells[(c.course_id, a.agency)] = a
    if len(names) < 2:
        return []
    rows = []
    for slug, name in names.items():
        row = []
        for c in courses:
            line = cells.get((c.course_id, slug))
            row.append(
                "not shown"
                if line is None
                else f"{w.count_text(line.clickers, low)}"
                f" ({w.rate_text(line.clickers, line.delivered, low)})"
            )
        rows.append({"name": name, "cells": row})
    return rows


def board_context(board: BoardReport, *, settings: Settings, draw: bool = True) -> dict[str, Any]:
    """What the board template shows: every figure already written in words; the charts as
    inline SVG unless ``draw`` is false (a page that shows them as images: board_chart)."""
    low = settings.report_min_count
    if board.empty:
        return {"empty_line": w.empty_line(board), "title": "Training links", "scope": board.scope}
    assert board.period is not None
    assert board.previous is not None
    previous = w.period_name(board.previous)
    clicks_label = board.figure("clicks").label
    ranked = w.ranked_themes(board, low)
    order = {m: i for i, (m, _t, _v) in enumerate(ranked)}
    themes = [
        {
            "month": w.month_name(m.month),
            "theme": m.theme,
            "reached": w.count_text(m.reached, low),
            "clicks": w.count_text(m.course_clicks, low),
            "per100": w.per_hundred_text(m.course_clicks, m.reached, low),
        }
        for m in sorted(board.months, key=lambda m: (order.get(m.month, len(order)), m.month))
    ]
    theme_charts = []
    trend = None
    if draw:
        theme_charts = [svg for svg in [board_chart(board, "themes", min_count=low)] if svg]
        trend = board_chart(board, "trend", min_count=low)
    with_bookings = any(c.bookings is not None for m in board.months for c in m.courses)
    months = []
    for m in board.months:
        note = ""
        if not m.courses:
            note = "No course link in this bulletin."
        elif m.course_clicks == 0:
            note = "No course link has been clicked yet."
        months.append(
            {
                "heading": f"{w.month_name(m.month)}: {m.theme}",
                "reached": w.count_text(m.reached, low),
                "note": note,
                "courses": [
                    {
                        "name": c.course,
                        "clickers": w.count_text(c.clickers, low),
                        "ctr": w.rate_text(c.clickers, c.delivered, low),
                        "bookings": w.count_text(c.bookings, low, none="–"),
                        "c2b": w.rate_text(c.bookings, c.clickers, low)
                        if c.bookings is not None
                        else "–",
                    }
                    for c in m.courses
                ],
                "agencies": _agency_rows(m.courses, low),
            }
        )
    notes = [
        w.dash_note(low) if low > 0 else "Small numbers are NOT hidden: for internal use only.",
        "Click-through: people who clicked a course / people reached (sent less bounced) in the "
        "agencies that were shown it. Clicks to bookings: bookings / people who clicked.",
        f"{clicks_label}: people who clicked each course, added over courses (a person who "
        "clicked two courses counts twice).",
    ]
    if board.unmatched_bookings:
        notes.append(
            f"{board.unmatched_bookings} imported booking rows name a course and month with no "
            "course link in a bulletin: they count in the headline bookings only."
        )
    machine = sum(r.events for r in board.machine_rules)
    methods = [
        "Opens and clicks are recorded through the bulletin's own tracking links. Security "
        "gateways, link scanners and mail privacy proxies open messages and follow links "
        "without a person reading; each such event is flagged by a set of rules and left out "
        "of every figure in this report (it stays in the raw figures of the CSV and JSON).",
        "Opens are indicative only: Apple Mail Privacy Protection and some gateways load "
        "every image, and some mail programs load none.",
        terminal.methods_summary(board, low),
        f'Small numbers: counts of fewer than {low} people are written "fewer than {low} '
        'people" and rates built on them as a dash, in every format of this report.'
        if low > 0
        else "Small numbers are not hidden in this copy.",
        "Every column, raw figures included, is in the CSV and JSON downloads.",
    ]
    rules = [
        {
            "words": w.reason_text(r.reason),
            "code": r.reason,
            "version": f"rules {r.rules_version}",
            "events": f"{r.events:,}",
        }
        for r in board.machine_rules
    ]
    if not machine:
        rules = []
    return {
        "empty_line": "",
        "title": f"Training links: {w.period_name(board.period)}",
        "scope": f"{board.scope[:1].upper()}{board.scope[1:]}. Compared with {previous}.",
        "headline": [
            {
                "label": f.label,
                "value": w.count_text(f.value, low),
                "change": w.change_text(f, low, previous=previous),
            }
            for f in board.headline
            if f.value is not None
        ],
        "sentences": w.sentences(board, low),
        "clicks_label": clicks_label,
        "themes": themes,
        "theme_charts": theme_charts,
        "trend_chart": trend,
        "months": months,
        "with_bookings": with_bookings,
        "grid": _grid(board, low, draw=draw),
        "has_themes_chart": bool(ranked),
        "notes": notes,
        "methods": methods,
        "rules": rules,
    }


def training_html(
    board: BoardReport, *, settings: Settings, generated: datetime | None = None
) -> str:
    """The board report as one self-contained HTML document (also the PDF's source)."""
    context = board_context(board, settings=settings)
    return (
        _env()
        .get_template("board.html")
        .render(
            **context,
            partnership_name=settings.partnership_name,
            partnership_name_css=css_string(settings.partnership_name),
            brand_colour=settings.brand_colour,
            generated=_when(generated, settings),
        )
    )


def _when(generated: datetime | None, settings: Settings) -> str:
    moment = generated or datetime.now(settings.zone)
    return f"{moment.day} {moment:%B %Y, %H:%M}"


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
    links = public.link_records(report, low)
    internal = [r for r in links if r["kind"] in public.INTERNAL_KINDS]
    tables: list[Any] = [
        html_table("By agency", public.BULLETIN_AGENCY_COLUMNS, agencies),
        html_table(
            "Click map: by section and link",
            public.for_people(public.LINK_COLUMNS),
            [r for r in links if r["kind"] not in public.INTERNAL_KINDS],
            "All agencies together.",
        ),
        html_table(
            "Feedback per section", public.FEEDBACK_COLUMNS, public.feedback_records(report, low)
        ),
        html_table(
            "Top courses",
            public.for_people(public.COURSE_COLUMNS),
            public.course_records(report, low),
        ),
    ]
    if internal:
        tables.append(
            html_table(
                "Appendix: methods (machine-activity detection)",
                public.for_people(public.LINK_COLUMNS),
                internal,
                "Links readers cannot see, placed to catch machines that follow every link: "
                "every hit on them, and the same reader's other events around it, count as "
                "machine activity.",
            )
        )
    return _page(
        settings=settings,
        title=f"Bulletin {report.month}: {report.theme}",
        subtitle=report.subject,
        notes=[
            public.machine_statement(report.machine_rules),
            public.suppression_statement(low),
            "Each figure is human-estimated, with the raw figure in brackets; –* marks a rate "
            f"not shown because it is built on fewer than {low} people.",
        ],
        chart_list=chart_list,
        tables=tables,
        generated=generated,
    )
