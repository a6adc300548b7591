"""`newsletter report ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from newsletter.cli._common import console, fail, load_settings, month_arg, session_for
from newsletter.reports import (
    ALL_KINDS,
    DEFAULT_KINDS,
    FORMATS,
    BookingImportError,
    Format,
    ReportError,
    import_bookings,
)

app = typer.Typer(help="Training-link engagement reports for the board.", no_args_is_help=True)

FORMAT_HELP = (
    "table (fits 100 columns), csv or json (every raw column), html (for screens) "
    "or pdf (A4, for board papers)."
)


def _format(value: str) -> Format:
    if value not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}")
    return value  # type: ignore[return-value]


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
        None, "--from", help="First month (YYYY-MM).", callback=_optional_month
    ),
    month_to: str | None = typer.Option(
        None, "--to", help="Last month (YYYY-MM).", callback=_optional_month
    ),
    agency: str | None = typer.Option(None, help="Only this agency (slug)."),
    course: str | None = typer.Option(None, help="Only this catalogue id."),
    kinds: str = typer.Option(
        ",".join(DEFAULT_KINDS), help=f"Link kinds, comma-separated: {','.join(ALL_KINDS)}."
    ),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
    wide: bool = typer.Option(
        False, "--wide", help="table: every column (course, agency, month; raw figures too)."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write to this file."),
) -> None:
    """The training report: headline against the previous period, courses by theme month,
    themes compared; CSV and JSON keep every raw column."""
    chosen = _format(fmt)
    if month_from and month_to and month_from > month_to:
        fail(f"--from {month_from} is after --to {month_to}")
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    from newsletter.reports import PdfUnavailable, training_output

    settings = load_settings()
    with session_for(settings) as session:
        try:
            output = training_output(
                session,
                settings,
                fmt=chosen,
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
    month: str = typer.Argument(..., help="The bulletin's month (YYYY-MM).", callback=month_arg),
    fmt: str = typer.Option("table", "--format", help=FORMAT_HELP),
    out: Path | None = typer.Option(None, "--out", help="Write to this file."),
) -> None:
    """One bulletin by agency, by section and link (click map), feedback and top courses."""
    chosen = _format(fmt)
    from newsletter.reports import PdfUnavailable, bulletin_output

    settings = load_settings()
    with session_for(settings) as session:
        try:
            output = bulletin_output(session, settings, month=month, fmt=chosen)
        except (ReportError, PdfUnavailable) as exc:
            fail(str(exc))
    _emit(output.content, out)


@app.command("import-bookings")
def import_bookings_command(
    file: Path = typer.Argument(..., help="CSV: course_id,agency,month,bookings,attended."),
) -> None:
    """Import course bookings and attendance (upsert per course, agency and month)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text")
    settings = load_settings()
    with session_for(settings) as session:
        try:
            count = import_bookings(session, text)
        except BookingImportError as exc:
            session.rollback()
            fail(f"{file}: nothing imported\n" + "\n".join(f"  {e}" for e in exc.errors))
        session.commit()
    console.print(f"imported {count} booking rows from {file}")
