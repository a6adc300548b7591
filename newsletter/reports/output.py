"""A report in a chosen format, ready to write to a file or serve: the one place the CLI and
the staff app turn filters and a format into content, so both show the same numbers."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session

from newsletter.config import Settings
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.formats import Format, bulletin_text, training_text
from newsletter.reports.training import DEFAULT_KINDS, build_training_report

MEDIA_TYPES = {
    "table": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
EXTENSIONS = {"table": "txt", "csv": "csv", "json": "json", "html": "html", "pdf": "pdf"}


@dataclass(frozen=True)
class Output:
    content: str | bytes
    fmt: str
    filename: str  # a name to save it under, e.g. training-2026-01-to-2026-06.pdf

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def training_output(
    session: Session,
    settings: Settings,
    *,
    fmt: Format,
    wide: bool = False,
    month_from: str | None = None,
    month_to: str | None = None,
    agency: str | None = None,
    course: str | None = None,
    kinds: Collection[str] = DEFAULT_KINDS,
) -> Output:
    """The training report: the board's view (table, html, pdf; json adds its summary to
    every raw column) or every raw column (csv, ``wide`` table). ReportError for bad
    filters; PdfUnavailable when PDF cannot be made here."""
    low = settings.report_min_count
    span = "-to-".join(dict.fromkeys(m for m in (month_from, month_to) if m)) or "all"
    name = f"training-{span}.{EXTENSIONS[fmt]}"
    if fmt == "csv" or (fmt == "table" and wide):
        report = build_training_report(
            session,
            month_from=month_from,
            month_to=month_to,
            agency=agency,
            course=course,
            kinds=kinds,
        )
        return Output(training_text(report, fmt=fmt, min_count=low), fmt, name)
    from newsletter.reports.board import build_board_report

    board = build_board_report(
        session, month_from=month_from, month_to=month_to, agency=agency, course=course, kinds=kinds
    )
    content: str | bytes
    if fmt == "table":
        from newsletter.reports.terminal import board_table

        content = board_table(board, min_count=low)
    elif fmt == "json":
        content = training_text(board.training, fmt="json", min_count=low, board=board)
    elif fmt == "html":
        from newsletter.reports.html import training_html

        content = training_html(board, settings=settings)
    elif fmt == "pdf":
        from newsletter.reports.pdf import training_pdf

        content = training_pdf(board, settings=settings)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return Output(content, fmt, name)


def bulletin_output(session: Session, settings: Settings, *, month: str, fmt: Format) -> Output:
    """One bulletin's report; ReportError when there is no bulletin for ``month``."""
    report = build_bulletin_report(session, month=month)
    name = f"bulletin-{month}.{EXTENSIONS[fmt]}"
    content: str | bytes
    if fmt == "html":
        from newsletter.reports.html import bulletin_html

        content = bulletin_html(report, settings=settings)
    elif fmt == "pdf":
        from newsletter.reports.pdf import bulletin_pdf

        content = bulletin_pdf(report, settings=settings)
    else:
        content = bulletin_text(report, fmt=fmt, min_count=settings.report_min_count)
    return Output(content, fmt, name)
