"""Text formats of the reports: a table to paste, CSV for the annual report, JSON.

All three are drawn from ``reports.public`` records (small numbers already hidden). CSV files
open with ``#`` lines stating how machine activity was identified and which numbers are hidden
(spreadsheets show them as notes above the table; ``pandas.read_csv(comment="#")`` skips them).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, Literal

from rich import box
from rich.console import Console
from rich.table import Table

from newsletter.reports import public, wording
from newsletter.reports.board import BoardReport
from newsletter.reports.bulletin import BulletinReport
from newsletter.reports.public import Column, Value
from newsletter.reports.training import TrainingReport

Format = Literal["table", "csv", "json", "html", "pdf"]
FORMATS: tuple[str, ...] = ("table", "csv", "json", "html", "pdf")


def cell_text(value: Value, kind: str = "count") -> str:
    if value is None:
        return "–" if kind != "text" else ""
    if value == public.SUPPRESSED:
        return "–*"
    if kind == "rate" and not isinstance(value, str):
        return f"{value:.1f}%"
    return str(value)


def paired(columns: Sequence[Column]) -> list[tuple[Column, Column | None]]:
    """Columns with their raw twin (``x`` and ``x_raw``) joined, for human-read formats."""
    keys = {c.key for c in columns}
    out: list[tuple[Column, Column | None]] = []
    for c in columns:
        if c.key.endswith("_raw") and c.key[: -len("_raw")] in keys:
            continue
        twin = next((t for t in columns if t.key == f"{c.key}_raw"), None)
        out.append((c, twin))
    return out


def pair_text(record: dict[str, Value], column: Column, twin: Column | None) -> str:
    text = cell_text(record.get(column.key), column.kind)
    if twin is not None:
        text += f" ({cell_text(record.get(twin.key), twin.kind)})"
    return text


def _table(title: str, columns: Sequence[Column], records: Sequence[dict[str, Value]]) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for column, twin in paired(columns):
        label = column.label + (" (raw)" if twin is not None else "")
        table.add_column(
            label, justify="left" if column.kind == "text" else "right", overflow="fold"
        )
    for record in records:
        table.add_row(*(pair_text(record, c, t) for c, t in paired(columns)))
    return table


def _console_text(*parts: Any, width: int = 400) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
    for part in parts:
        console.print(part)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


def _csv_block(columns: Sequence[Column], records: Sequence[dict[str, Value]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.key for c in columns])
    for record in records:
        writer.writerow(["" if record.get(c.key) is None else record.get(c.key) for c in columns])
    return buf.getvalue()


def _notes(lines: Sequence[str]) -> str:
    return "".join(f"# {line}\n" for line in lines)


def board_summary(board: BoardReport, min_count: int) -> dict[str, Any]:
    """The board's headline, sentences and themes for the JSON (small numbers hidden as in
    the rows)."""
    p = public.people
    return {
        "period": {"from": board.period.first, "to": board.period.last} if board.period else None,
        "previous_period": (
            {"from": board.previous.first, "to": board.previous.last} if board.previous else None
        ),
        "headline": [
            {
                "measure": f.key,
                "label": f.label,
                "value": p(f.value, min_count),
                "previous": p(f.previous, min_count),
            }
            for f in board.headline
        ],
        "sentences": wording.sentences(board, min_count),
        "themes": [
            {
                "month": m.month,
                "theme": m.theme,
                "reached": p(m.reached, min_count),
                "course_clicks": p(m.course_clicks, min_count),
                "course_clicks_per_100_reached": public.rate(m.course_clicks, m.reached, min_count),
            }
            for m in board.months
        ],
    }


def training_text(
    report: TrainingReport, *, fmt: Format, min_count: int, board: BoardReport | None = None
) -> str:
    """The training report as table (every column), csv or json text; json carries the
    board's summary when ``board`` is given (html and pdf: reports.html, reports.pdf)."""
    records = public.training_records(report, min_count)
    machine = public.machine_statement(report.machine_rules)
    hidden = public.suppression_statement(min_count)
    period = f"{report.month_from or 'first'} to {report.month_to or 'latest'}"
    if fmt == "json":
        return json.dumps(
            {
                "report": "training",
                "from": report.month_from,
                "to": report.month_to,
                "kinds": list(report.kinds),
                "min_count": min_count,
                "machine_activity": {
                    "statement": machine,
                    "rules": public.machine_json(report.machine_rules),
                },
                "small_numbers": hidden,
                **({"summary": board_summary(board, min_count)} if board is not None else {}),
                "columns": [c.key for c in public.TRAINING_COLUMNS],
                "rows": records,
                "unmatched_bookings": [
                    {
                        "course_id": b.course_id,
                        "agency": b.agency,
                        "month": b.month,
                        "bookings": public.people(b.bookings, min_count),
                        "attended": public.people(b.attended, min_count),
                    }
                    for b in report.unmatched_bookings
                ],
            },
            indent=2,
        )
    if fmt == "csv":
        notes = [f"Training report, {period}; kinds: {', '.join(report.kinds)}", machine, hidden]
        return _notes(notes) + _csv_block(public.TRAINING_COLUMNS, records)
    if fmt == "table":
        title = f"Training links by course, agency and month ({period})"
        return _console_text(
            _table(title, public.TRAINING_COLUMNS, records),
            "Figures: human-estimated (raw, machine activity included).",
            f"–* not shown: built on fewer than {min_count} people." if min_count > 0 else "",
            machine,
            hidden,
        )
    raise ValueError(f"unknown format {fmt!r}")


def bulletin_text(report: BulletinReport, *, fmt: Format, min_count: int) -> str:
    """The bulletin report as table, csv or json text."""
    parts = [
        (
            "by_agency",
            "By agency",
            public.BULLETIN_AGENCY_COLUMNS,
            public.bulletin_agency_records(report, min_count),
        ),
        (
            "links",
            "Click map: by section and link (all agencies)",
            public.LINK_COLUMNS,
            public.link_records(report, min_count),
        ),
        (
            "feedback",
            "Feedback per section",
            public.FEEDBACK_COLUMNS,
            public.feedback_records(report, min_count),
        ),
        (
            "top_courses",
            "Top courses",
            public.COURSE_COLUMNS,
            public.course_records(report, min_count),
        ),
    ]
    machine = public.machine_statement(report.machine_rules)
    hidden = public.suppression_statement(min_count)
    if fmt == "json":
        doc: dict[str, Any] = {
            "report": "bulletin",
            "month": report.month,
            "theme": report.theme,
            "subject": report.subject,
            "min_count": min_count,
            "machine_activity": {
                "statement": machine,
                "rules": public.machine_json(report.machine_rules),
            },
            "small_numbers": hidden,
        }
        for key, _title, _cols, records in parts:
            doc[key] = records
        return json.dumps(doc, indent=2)
    if fmt == "csv":
        blocks = [_notes([f"Bulletin report {report.month}: {report.theme}", machine, hidden])]
        for key, _title, cols, records in parts:
            blocks.append(f"# {key}\n" + _csv_block(cols, records))
        return "\n".join(blocks)
    if fmt == "table":
        tables = []
        for key, title, cols, records in parts:
            shown = records
            if key == "links":
                shown = [r for r in records if r.get("kind") not in public.INTERNAL_KINDS]
            if key == "by_agency":
                shown = [
                    {
                        **r,
                        "agency": "All agencies"
                        if r["agency"] == "all"
                        else report.agencies.get(str(r["agency"]), r["agency"]),
                    }
                    for r in records
                ]
            human = [c for c in public.for_people(cols) if not c.key.endswith("_raw")]
            tables.append(_table(title, human, shown))
        internal = [
            r for r in public.link_records(report, min_count) if r["kind"] in public.INTERNAL_KINDS
        ]
        appendix = [
            f"Methods: link {r['position']} ({r['kind']}: {r['title']}) is hidden from readers "
            f"to catch machines that follow every link: {r['clicks_raw']} hits."
            for r in internal
        ]
        return _console_text(
            f"Bulletin {report.month}: {report.theme}",
            *tables,
            "Figures: human-estimated; with machine activity included: --format csv or json.",
            f"–* not shown: built on fewer than {min_count} people." if min_count > 0 else "",
            machine,
            hidden,
            *appendix,
            width=100,
        )
    raise ValueError(f"unknown format {fmt!r}")
