"""`newsletter subscribers ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.activity import cli_actor, record
from newsletter.agencies import AgencyFileError, agency_slugs, read_agencies, sync_agencies
from newsletter.cli._common import (
    console,
    err_console,
    fail,
    load_settings,
    open_engine,
    session_for,
)
from newsletter.config import Settings
from newsletter.models import EventSource, SubscriberStatus, utcnow
from newsletter.subscribers import (
    DEFAULT_MAX_LEAVERS,
    ImportFileError,
    ImportReport,
    SyncReport,
    audiences_text,
    erase,
    export_csv,
    find_by_email,
    import_file,
    import_suppressions,
    iter_subscribers,
    subject_access,
    sync_csv,
    unsubscribe,
)

app = typer.Typer(
    help="Subscriber lists by agency: import, export, consent, erasure.", no_args_is_help=True
)

_PROGRESS_FROM_BYTES = 1_000_000  # show a progress bar for files bigger than this


def _check_agency(session: Session, agency: str | None) -> None:
    if agency is not None and agency not in agency_slugs(session):
        fail(f"unknown agency {agency!r}; known: {', '.join(agency_slugs(session))}")


def _sync_catalogue(session: Session, settings: Settings) -> None:
    """Bring the agency table up to agencies.yaml before an import (it is configuration)."""
    path = settings.subscribers_dir / "agencies.yaml"
    if path.exists():
        try:
            sync_agencies(session, read_agencies(path))
        except AgencyFileError as exc:
            fail(escape(str(exc)))
    if not agency_slugs(session):
        fail(escape(f"no agencies defined: create {path} (see subscribers/README.md)"))


def print_import_report(report: ImportReport) -> None:
    """The summary table, then every rejected row and every notice, with line numbers."""
    title = "import (dry run: nothing written)" if report.dry_run else "import"
    table = Table(title=title, title_justify="left")
    for name in ("rows", "added", "updated", "unchanged", "kept out", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            str(v)
            for v in (
                report.rows,
                report.added,
                report.updated,
                report.unchanged,
                report.kept_out,
                report.rejected,
            )
        )
    )
    console.print(table)
    if report.kept_out:
        console.print(
            f"{report.kept_out} row(s) name people who unsubscribed, bounced, complained or "
            "left their agency: they were not re-subscribed."
        )
    print_issues(report)


def print_issues(report: ImportReport) -> None:
    """Every notice and rejected row, one plain line each with its line number."""
    # Plain lines, not a table: easy to read, to copy, and to grep for "line 12".
    for label, issues, total in (
        ("notices", report.notices, report.notices_count),
        ("rejected rows", report.rejections, report.rejected),
    ):
        if not issues:
            continue
        console.print(f"\n[bold]{label} ({total}):[/]")
        for issue in issues:
            shown = f" ({issue.value})" if issue.value else ""
            console.print(f"  line {issue.line}: {issue.reason}{shown}", markup=False)
        if total > len(issues):
            console.print(f"  ... and {total - len(issues)} more {label}")


@app.command("import")
def import_command(
    file: Path = typer.Argument(
        ..., help="CSV with header email,name,agency,audiences (and optionally status)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; write nothing."),
    agency: str | None = typer.Option(
        None, "--agency", help="Agency for rows whose agency cell is empty."
    ),
) -> None:
    """Import a subscriber list; exits 1 when any row was rejected (the rest are imported)."""
    if not file.is_file():
        fail(f"{file}: no such file")
    settings = load_settings()
    size = file.stat().st_size
    with session_for(settings) as session:
        _sync_catalogue(session, settings)
        _check_agency(session, agency)
        session.commit()
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
            disable=size < _PROGRESS_FROM_BYTES or not err_console.is_terminal,
        )
        with progress:
            task = progress.add_task("import", total=size)
            try:
                # Checked and staged first, then written in short transactions: clicks recorded
                # meanwhile never wait behind the import (newsletter.shortwrites).
                report = import_file(
                    engine,
                    file,
                    now=utcnow(),
                    consent_source=f"import of {file.name}",
                    default_agency=agency,
                    dry_run=dry_run,
                    on_progress=lambda _rows, done: progress.update(task, completed=done),
                )
            except ImportFileError as exc:
                fail(escape(f"{file}: {exc}; nothing was imported"))
        if dry_run:
            session.rollback()
        else:
            record(
                session,
                actor=cli_actor(),
                action="list.import",
                object=f"agency:{agency or 'any'}",
                detail=f"{file.name}: {report.added} added, {report.updated} updated, "
                f"{report.kept_out} kept out, {report.rejected} rejected",
            )
            session.commit()
    print_import_report(report)
    if not report.ok:
        raise typer.Exit(1)


def print_sync_counts(report: SyncReport) -> None:
    """The counts a person checks before a sync writes anything."""
    title = f"sync of {report.agency}" + (" (dry run: nothing written)" if report.dry_run else "")
    table = Table(title=title, title_justify="left")
    names = ("rows", "adds", "changes", "back", "leavers", "unchanged", "kept out", "rejected")
    for name in names:
        table.add_column(name, justify="right")
    values = (
        report.rows,
        report.added,
        report.updated,
        report.rejoined,
        report.leavers,
        report.unchanged,
        report.kept_out,
        report.rejected,
    )
    table.add_row(*(str(v) for v in values))
    console.print(table)
    console.print(
        f"{report.leavers} of {report.active_before} active people in {report.agency} "
        f"({report.leaver_share:.1f}%) are not in the file and would be marked as having left "
        f"the agency (limit {report.max_leavers:g}%).",
        markup=False,
    )
    if report.leaver_sample:
        shown = ", ".join(report.leaver_sample)
        more = report.leavers - len(report.leaver_sample)
        console.print(f"leavers: {shown}" + (f" and {more} more" if more > 0 else ""), markup=False)
    print_issues(report)


@app.command("sync")
def sync_command(
    file: Path = typer.Argument(..., help="The agency's complete staff list (import's columns)."),
    agency: str = typer.Option(..., "--agency", help="The agency whose list this is."),
    max_leavers: float = typer.Option(
        DEFAULT_MAX_LEAVERS,
        "--max-leavers",
        min=0,
        max=100,
        help="Refuse, writing nothing, when more than this percent of the agency would leave.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; write nothing."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before writing (for scripts)."),
) -> None:
    """Make an agency's list match FILE: add, change, mark leavers (exit 1 rejected rows,
    2 refused)."""
    if not file.is_file():
        fail(f"{file}: no such file")
    settings = load_settings()
    engine = open_engine(settings)

    def decide(report: SyncReport) -> bool:
        print_sync_counts(report)
        if yes:
            return True
        return typer.confirm("Apply these changes?", default=False)

    try:
        with Session(engine) as session:
            _sync_catalogue(session, settings)
            session.commit()
        try:
            report = sync_csv(
                engine,
                file,
                agency=agency,
                now=utcnow(),
                source_name=file.name,
                max_leavers=max_leavers,
                dry_run=dry_run,
                decide=decide,
            )
        except ImportFileError as exc:
            fail(escape(f"{file}: {exc}; nothing was changed"))
    finally:
        engine.dispose()
    if report.refused or report.dry_run:
        print_sync_counts(report)
    if report.refused:
        fail(escape(f"sync refused: {report.refused}"), code=2)
    if report.applied:
        with Session(engine) as session:
            record(
                session,
                actor=cli_actor(),
                action="list.sync",
                object=f"agency:{report.agency}",
                detail=f"{file.name}: {report.added} added, {report.updated} changed, "
                f"{report.rejoined} back, {report.leavers} left the agency, "
                f"{report.rejected} rejected",
            )
            session.commit()
        engine.dispose()
        console.print(
            f"{report.agency}: {report.added} added, {report.updated} changed, "
            f"{report.rejoined} back, {report.leavers} marked as having left",
            markup=False,
        )
    elif not report.dry_run:
        console.print("nothing was changed", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("suppress")
def suppress_command(
    file: Path = typer.Argument(
        ..., help="CSV with an email column (and optionally reason), e.g. another tool's export."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count; write nothing."),
) -> None:
    """Import a suppression list: those addresses are never mailed (exit 1 on rejected rows)."""
    if not file.is_file():
        fail(f"{file}: no such file")
    settings = load_settings()
    with session_for(settings) as session:
        try:
            report = import_suppressions(session, file, now=utcnow(), dry_run=dry_run)
        except ImportFileError as exc:
            session.rollback()
            fail(escape(f"{file}: {exc}; nothing was imported"))
        if dry_run:
            session.rollback()
        else:
            record(
                session,
                actor=cli_actor(),
                action="list.suppress",
                object="suppression-list",
                detail=f"{file.name}: {report.added} new, {report.updated} subscribers stopped",
            )
            session.commit()
    title = "suppression list" + (" (dry run: nothing written)" if dry_run else "")
    table = Table(title=title, title_justify="left")
    for name in ("rows", "new", "already listed", "subscribers stopped", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            str(v)
            for v in (report.rows, report.added, report.unchanged, report.updated, report.rejected)
        )
    )
    console.print(table)
    print_issues(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command("export")
def export_command(
    out: Path | None = typer.Option(None, "--out", help="Write to FILE instead of stdout."),
    agency: str | None = typer.Option(None, "--agency", help="Only this agency."),
    status: SubscriberStatus | None = typer.Option(None, "--status", help="Only this status."),
) -> None:
    """Export the list as CSV: email,name,agency,audiences,status (erased people excluded)."""
    settings = load_settings()
    with session_for(settings) as session:
        _check_agency(session, agency)
        if out is None:
            export_csv(session, sys.stdout, agency=agency, status=status)
            return
        with out.open("w", encoding="utf-8", newline="") as fh:
            count = export_csv(session, fh, agency=agency, status=status)
    console.print(f"{count} subscriber(s) written to {out}")


@app.command("list")
def list_command(
    agency: str | None = typer.Option(None, "--agency", help="Only this agency."),
    status: SubscriberStatus | None = typer.Option(None, "--status", help="Only this status."),
    limit: int = typer.Option(100, "--limit", help="Show at most N (0: all)."),
) -> None:
    """List subscribers (erased ones only with --status erased)."""
    settings = load_settings()
    with session_for(settings) as session:
        _check_agency(session, agency)
        table = Table(title_justify="left")
        for name in ("email", "name", "agency", "audiences", "status"):
            table.add_column(name)
        shown = more = 0
        for s in iter_subscribers(session, agency=agency, status=status):
            if limit and shown >= limit:
                more += 1
                continue
            cells = (s.email or "(erased)", s.name, s.agency, audiences_text(s), s.status)
            table.add_row(*(escape(c) for c in cells))
            shown += 1
    table.title = f"{shown + more} subscriber(s)"
    console.print(table)
    if more:
        console.print(f"... and {more} more (use --limit 0, or export)")


@app.command("show")
def show_command(email: str = typer.Argument(..., help="The subscriber's address.")) -> None:
    """Everything held about one person (subject access request)."""
    settings = load_settings()
    with session_for(settings) as session:
        subscriber = find_by_email(session, email)
        if subscriber is None:
            fail(escape(f"no subscriber with the address {email!r}"))
        held = subject_access(session, subscriber)
    s = held.subscriber
    table = Table(title=escape(f"subscriber {s.email}"), title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value")
    rows = [
        ("email", s.email or ""),
        ("name", s.name),
        ("agency", s.agency),
        ("audiences", audiences_text(s) or "(none)"),
        (
            "status",
            f"{s.status}"
            + (f" since {s.status_changed_at:%Y-%m-%d %H:%M}" if s.status_changed_at else ""),
        ),
        ("source", s.source),
        ("lawful basis", s.lawful_basis),
        (
            "consent",
            f"{s.consent_source} at {s.consent_at:%Y-%m-%d %H:%M} UTC"
            if s.consent_at
            else s.consent_source or "(none recorded)",
        ),
        ("consent wording", s.consent_wording or "(none: not a sign-up)"),
        ("created", f"{s.created_at:%Y-%m-%d %H:%M} UTC"),
        ("updated", f"{s.updated_at:%Y-%m-%d %H:%M} UTC"),
        ("suppressed", held.suppressed or "no"),
        ("link token", "a secret token for unsubscribe and preference links"),
        ("deliveries", str(len(held.deliveries))),
        ("events", ", ".join(f"{k}: {v}" for k, v in held.events.items()) or "none"),
    ]
    for name, value in rows:
        table.add_row(name, escape(value))
    console.print(table)
    if held.deliveries:
        deliveries = Table(title="bulletins sent", title_justify="left")
        for name in ("month", "agency", "status", "sent at (UTC)"):
            deliveries.add_column(name)
        for d in held.deliveries:
            sent = f"{d.sent_at:%Y-%m-%d %H:%M}" if d.sent_at else ""
            deliveries.add_row(d.month, d.agency, d.status, sent)
        console.print(deliveries)


@app.command("unsubscribe")
def unsubscribe_command(email: str = typer.Argument(..., help="The subscriber's address.")) -> None:
    """Unsubscribe someone at once (e.g. on a request by email or phone)."""
    settings = load_settings()
    with session_for(settings) as session:
        subscriber = find_by_email(session, email)
        if subscriber is None:
            fail(escape(f"no subscriber with the address {email!r}"))
        changed = unsubscribe(session, subscriber, now=utcnow(), source=EventSource.system)
        if changed:
            record(
                session,
                actor=cli_actor(),
                action="subscriber.unsubscribe",
                object=f"subscriber:{subscriber.id}",
            )
        session.commit()
    if changed:
        console.print(f"{subscriber.email} unsubscribed", markup=False)
    else:
        console.print(
            f"{subscriber.email} was already {subscriber.status}: nothing changed", markup=False
        )


@app.command("erase")
def erase_command(
    email: str = typer.Argument(..., help="The subscriber's address."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a person's data; their address is suppressed, agency-level history is kept."""
    settings = load_settings()
    with session_for(settings) as session:
        subscriber = find_by_email(session, email)
        if subscriber is None:
            fail(escape(f"no subscriber with the address {email!r} (already erased?)"))
        shown = subscriber.email
        if not yes and not typer.confirm(f"Erase {shown}? This cannot be undone", default=False):
            fail("not erased")
        erase(session, subscriber, now=utcnow())
        record(
            session,
            actor=cli_actor(),
            action="subscriber.erase",
            object=f"subscriber:{subscriber.id}",
        )
        session.commit()
    console.print(
        f"{shown} erased: personal data removed, address suppressed, agency-level history kept"
    )
