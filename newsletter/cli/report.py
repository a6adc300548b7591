"""`newsletter report ...` commands."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from newsletter.cli._common import (
    BULLETIN_HELP,
    bulletin_arg,
    console,
    fail,
    load_settings,
    month_arg,
    session_for,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from newsletter.config import Settings
    from newsletter.reports import Format

app = typer.Typer(help="Training-link engagement reports for the board.", no_args_is_help=True)

FORMAT_HELP = (
    "table (fits 100 columns), csv or json (every raw column), html (for screens) "
    "or pdf (A4, for board papers)."
)


# The choices, written here so that `--help` shows them without importing the reports (a test
# keeps them equal to newsletter.reports.formats.FORMATS and training.ALL_KINDS/DEFAULT_KINDS).
class ReportFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    html = "html"
    pdf = "pdf"


_FORMAT: dict[ReportFormat, Format] = {
    ReportFormat.table: "table",
    ReportFormat.csv: "csv",
    ReportFormat.json: "json",
    ReportFormat.html: "html",
    ReportFormat.pdf: "pdf",
}
LINK_KINDS = ("course", "briefing", "review", "resource", "feedback")
DEFAULT_LINK_KINDS = ("course",)


def _optional_month(value: str | None) -> str | None:
    return None if value is None else month_arg(value)


def _emit(content: str | bytes, out: Path | None) -> None:
    if out is None:
        if isinstance(content, bytes):
            if sys.stdout.isatty():
                fail("a PDF is not for the terminal: add --out FILE.pdf (or redirect it)")
            sys.stdout.buffer.write(content)
            sys.stdout.buffer.flush()
            return
        typer.echo(content, nl=not content.endswith("\n"))
        return
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    try:
        out.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(f"wrote {out} ({len(data):,} bytes)")


@app.command()
def training(
    month_from: str | None = typer.Option(
        None, "--from", metavar="YYYY-MM", help="First month.", callback=_optional_month
    ),
    month_to: str | None = typer.Option(
        None, "--to", metavar="YYYY-MM", help="Last month.", callback=_optional_month
    ),
    agency: str | None = typer.Option(None, metavar="AGENCY", help="Only this agency (slug)."),
    course: str | None = typer.Option(None, metavar="ID", help="Only this catalogue id."),
    kinds: str = typer.Option(
        ",".join(DEFAULT_LINK_KINDS),
        metavar="KINDS",
        help=f"Link kinds, comma-separated: {','.join(LINK_KINDS)}.",
    ),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help=FORMAT_HELP),
    wide: bool = typer.Option(
        False, "--wide", help="table: every column (course, agency, month; raw figures too)."
    ),
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="Write to this file."),
) -> None:
    """The training report: headline against the previous period, courses by theme month,
    themes compared; CSV and JSON keep every raw column."""
    if month_from and month_to and month_from > month_to:
        fail(f"--from {month_from} is after --to {month_to}")
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    from newsletter.reports import PdfUnavailable, ReportError, training_output

    settings = load_settings()
    with session_for(settings) as session:
        try:
            output = training_output(
                session,
                settings,
                fmt=_FORMAT[fmt],
                wide=wide,
                month_from=month_from,
                month_to=month_to,
                agency=agency,
                course=course,
                kinds=kind_list,
            )
        except (ReportError, PdfUnavailable) as exc:
            fail(str(exc))
    _emit(output.content, out)


@app.command()
def bulletin(
    month: str = typer.Argument(..., help=BULLETIN_HELP, callback=bulletin_arg),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help=FORMAT_HELP),
    out: Path | None = typer.Option(None, "--out", metavar="FILE", help="Write to this file."),
) -> None:
    """One bulletin by agency, by section and link (click map), feedback and top courses."""
    from newsletter.reports import PdfUnavailable, ReportError, bulletin_output

    settings = load_settings()
    with session_for(settings) as session:
        try:
            output = bulletin_output(session, settings, month=month, fmt=_FORMAT[fmt])
        except (ReportError, PdfUnavailable) as exc:
            fail(str(exc))
    _emit(output.content, out)


@app.command("import-bookings")
def import_bookings_command(
    file: Path = typer.Argument(..., help="CSV: course_id,agency,month,bookings,attended."),
) -> None:
    """Import course bookings and attendance (upsert per course, agency and month).

    Each bad row is named by its line and left out; the others are imported; exit 1 if any
    row was rejected.
    """
    from newsletter.reports import BookingImportError, import_bookings

    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    settings = load_settings()
    with session_for(settings) as session:
        try:
            done = import_bookings(session, text, catalogue=_plan_courses(session, settings))
        except BookingImportError as exc:
            session.rollback()
            fail(f"{file}: nothing imported\n" + "\n".join(f"  {e}" for e in exc.errors))
        session.commit()
    console.print(f"imported {done.imported} booking rows from {file}", markup=False)
    if done.rejected:
        for problem in done.rejected:
            console.print(f"  {problem}", markup=False, soft_wrap=True)
        fail(f"{len(done.rejected)} problem(s) in {file}: those rows were not imported")


def _plan_courses(session: Session, settings: Settings) -> set[str]:
    """The course ids of the current plan revision (none before the first one is saved)."""
    from newsletter.plan import ItemKind, PlanInvalid, agency_slugs, current_revision, plan_of

    revision = current_revision(session)
    if revision is None:
        return set()
    try:
        agencies = agency_slugs(settings)
    except PlanInvalid:
        agencies = None  # the agency file is unreadable: the course ids can still be read
    plan = plan_of(session, revision, agencies=agencies).plan
    if plan is None:
        return set()
    return {item.id for item in plan.catalogue.values() if item.kind is ItemKind.course}
