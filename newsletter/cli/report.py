"""`newsletter report ...` commands."""

from __future__ import annotations

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
    build_bulletin_report,
    build_training_report,
    bulletin_text,
    import_bookings,
    training_text,
)

app = typer.Typer(help="Training-link engagement reports for the board.", no_args_is_help=True)


def _format(value: str) -> Format:
    if value not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}")
    return value  # type: ignore[return-value]


def _optional_month(value: str | None) -> str | None:
    return None if value is None else month_arg(value)


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(f"wrote {out} ({len(text.encode()):,} bytes)")


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
    fmt: str = typer.Option("table", "--format", help="table, csv, json or html."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file."),
) -> None:
    """Engagement with training links by course, agency and month."""
    chosen = _format(fmt)
    if month_from and month_to and month_from > month_to:
        fail(f"--from {month_from} is after --to {month_to}")
    kind_list = [k.strip() for k in kinds.split(",") if k.strip()]
    settings = load_settings()
    with session_for(settings) as session:
        try:
            report = build_training_report(
                session,
                month_from=month_from,
                month_to=month_to,
                agency=agency,
                course=course,
                kinds=kind_list,
            )
        except ReportError as exc:
            fail(str(exc))
    if chosen == "html":
        from newsletter.reports import training_html

        text = training_html(report, settings=settings)
    else:
        text = training_text(report, fmt=chosen, min_count=settings.report_min_count)
    _emit(text, out)


@app.command()
def bulletin(
    month: str = typer.Argument(..., help="The bulletin's month (YYYY-MM).", callback=month_arg),
    fmt: str = typer.Option("table", "--format", help="table, csv, json or html."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file."),
) -> None:
    """One bulletin by agency, by section and link (click map), feedback and top courses."""
    chosen = _format(fmt)
    settings = load_settings()
    with session_for(settings) as session:
        try:
            report = build_bulletin_report(session, month=month)
        except ReportError as exc:
            fail(str(exc))
    if chosen == "html":
        from newsletter.reports import bulletin_html

        text = bulletin_html(report, settings=settings)
    else:
        text = bulletin_text(report, fmt=chosen, min_count=settings.report_min_count)
    _emit(text, out)


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
