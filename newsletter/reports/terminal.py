"""The board report as a terminal table that fits 100 columns (``report training``).

``--wide`` prints every column instead (``formats.training_text(fmt="table")``); CSV and JSON
keep every raw column for analysts.
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from newsletter.reports import wording as w
from newsletter.reports.board import BoardReport

WIDTH = 100


def _console_text(parts: list[Any]) -> str:
    console = Console(record=True, width=WIDTH, file=io.StringIO(), highlight=False)
    for part in parts:
        console.print(part)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(
        text, width=WIDTH - 2, initial_indent=indent, subsequent_indent=" " * (len(indent) + 2)
    )


def _table(title: str | None = None) -> Table:
    return Table(
        title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, expand=False
    )


def title_line(board: BoardReport) -> str:
    assert board.period is not None
    return f"Training links: {w.period_name(board.period)} ({board.scope})"


def board_table(board: BoardReport, *, min_count: int) -> str:
    """Headline, what changed, themes compared, courses by theme month, notes: 100 columns."""
    if board.empty:
        return w.empty_line(board) + "\n"
    assert board.previous is not None
    previous = w.period_name(board.previous)
    parts: list[Any] = [title_line(board)]
    headline = _table()
    headline.add_column("Headline", no_wrap=True)
    headline.add_column("This period", justify="right")
    headline.add_column("Change from the previous period")
    for figure in board.headline:
        if figure.value is None:
            continue  # bookings, when none were imported
        headline.add_row(
            figure.label,
            w.count_text(figure.value, min_count),
            w.change_text(figure, min_count, previous=previous),
        )
    parts.append(headline)
    parts.append("What changed")
    parts += [_wrap(s, "  - ") for s in w.sentences(board, min_count)]
    parts.append("")

    themes = _table(
        f"Themes compared: {board.figure('clicks').label.lower()} per 100 people reached"
    )
    themes.add_column("Month", no_wrap=True)
    themes.add_column("Theme")
    themes.add_column("People reached", justify="right")
    themes.add_column(board.figure("clicks").label, justify="right")
    themes.add_column("Per 100 reached", justify="right")
    ranked = {m: i for i, (m, _t, _v) in enumerate(w.ranked_themes(board, min_count))}
    for m in sorted(board.months, key=lambda m: (ranked.get(m.month, len(ranked)), m.month)):
        themes.add_row(
            w.month_name(m.month),
            m.theme,
            w.count_text(m.reached, min_count),
            w.count_text(m.course_clicks, min_count),
            w.per_hundred_text(m.course_clicks, m.reached, min_count),
        )
    parts.append(themes)

    with_bookings = any(c.bookings is not None for m in board.months for c in m.courses)
    parts.append("Courses by theme month")
    for m in board.months:
        heading = f"{w.month_name(m.month)}: {m.theme}"
        if not m.courses:
            parts += [heading, "  No course link in this bulletin.", ""]
            continue
        if m.course_clicks == 0:
            parts += [heading, "  No course link has been clicked yet.", ""]
            continue
        table = _table(heading)
        table.add_column("Course", ratio=3, min_width=30)
        table.add_column("People who clicked", justify="right")
        table.add_column("Click-through", justify="right")
        if with_bookings:
            table.add_column("Bookings", justify="right")
            table.add_column("Clicks to bookings", justify="right")
        for c in m.courses:
            cells = [
                c.course,
                w.count_text(c.clickers, min_count),
                w.rate_text(c.clickers, c.delivered, min_count),
            ]
            if with_bookings:
                cells += [
                    w.count_text(c.bookings, min_count, none="–"),
                    w.rate_text(c.bookings, c.clickers, min_count)
                    if c.bookings is not None
                    else "–",
                ]
            table.add_row(*cells)
        parts.append(table)
        for c in m.courses:
            if len(c.agencies) > 1:
                by = "; ".join(
                    f"{a.name} {w.count_text(a.clickers, min_count)}"
                    f" ({w.rate_text(a.clickers, a.delivered, min_count)})"
                    for a in c.agencies
                )
                parts.append(_wrap(f"{c.course}, by agency: {by}", "  "))
        parts.append("")
    notes = [
        w.dash_note(min_count) if min_count > 0 else "Small numbers are NOT hidden.",
        "Click-through: people who clicked / people reached (sent less bounced) in the agencies "
        "that were shown the course.",
        methods_summary(board, min_count),
        "Every column, raw figures included: --wide, --format csv or --format json.",
    ]
    parts += ["Notes", *(_wrap(n, "  ") for n in notes)]
    return _console_text(parts)


def methods_summary(board: BoardReport, min_count: int) -> str:
    clicks = board.figure("clicks")
    machine = sum(r.events for r in board.machine_rules)
    if not machine:
        return "No activity in this period was identified as machine activity."
    return (
        f"Machine activity (link scanners, mail privacy proxies: {machine:,} events) is left "
        f"out; {clicks.label.lower()} with it included: {w.count_text(board.clicks_raw, min_count)}."
    )
