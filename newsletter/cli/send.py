"""`newsletter bulletin send MONTH`: send (or resume), dry-run counts, test copies."""

from __future__ import annotations

from types import TracebackType

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.cli._common import console, fail, load_settings, month_arg, open_engine
from newsletter.cli.tuning import dedicated_send_process
from newsletter.clock import SystemClock
from newsletter.config import Settings
from newsletter.dispatch import (
    DispatchError,
    DryRun,
    SendSummary,
    dry_run,
    send_bulletin,
    send_test_copies,
    stop_send,
)
from newsletter.models import Bulletin, BulletinStatus
from newsletter.transports import Outcome, TransportError, make_transport


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


class RichProgress:
    """The dispatch :class:`~newsletter.dispatch.Progress` drawn as a rich progress bar."""

    def __init__(self, label: str) -> None:
        self.bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.label = label
        self.task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bar.stop()

    def start(self, total: int) -> None:
        self.task = self.bar.add_task(self.label, total=total)

    def advance(self, count: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, count)

    def note(self, message: str) -> None:
        self.bar.console.print(f"[yellow]{message}[/]")


def summary_table(summary: SendSummary) -> Table:
    table = Table(title=f"Bulletin {summary.month}: {summary.status}")
    table.add_column("agency")
    for name in ("sent", "skipped", "failed", "unknown", "pending"):
        table.add_column(name, justify="right")
    for agency, c in sorted(summary.by_agency.items()):
        table.add_row(
            agency, *(f"{n:,}" for n in (c.sent, c.skipped, c.failed, c.unknown, c.pending))
        )
    t = summary.totals
    table.add_row(
        "[bold]total",
        *(f"[bold]{n:,}" for n in (t.sent, t.skipped, t.failed, t.unknown, t.pending)),
    )
    return table


def dry_run_table(result: DryRun) -> Table:
    table = Table(title=f"Dry run of {result.month} (status {result.status}); nothing sent")
    table.add_column("agency")
    table.add_column("variant", justify="right")
    table.add_column("subject")
    table.add_column("audience", justify="right")
    table.add_column("in ledger", justify="right")
    table.add_column("pending", justify="right")
    table.add_column("unknown", justify="right")
    for row in result.rows:
        table.add_row(
            row.agency,
            str(row.variant_id) if row.variant_id is not None else "[red]none",
            row.subject or "",
            f"{row.audience:,}",
            f"{row.in_ledger:,}",
            f"{row.pending:,}",
            f"{row.unknown:,}",
        )
    return table


def _refuse_early_send(engine: Engine, settings: Settings, month: str) -> None:
    """A bulletin waiting for its slot goes out then, unless a person says --now."""
    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None or bulletin.send_at is None:
        return  # dispatch explains what is missing
    waiting = bulletin.status in (BulletinStatus.approved, BulletinStatus.scheduled)
    if waiting and bulletin.send_at > SystemClock().now():
        slot = bulletin.send_at.astimezone(settings.zone).strftime("%a %d %b %Y %H:%M %Z")
        fail(
            f"bulletin {month} is due to go out at {slot}; the scheduler sends it then. "
            "To send it now instead, add --now."
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def send(
        month: str = typer.Argument(..., callback=month_arg, help="The month, YYYY-MM."),
        transport: str | None = typer.Option(
            None,
            "--transport",
            "-t",
            help="outbox, smtp or sendgrid (default NEWSLETTER_TRANSPORT).",
        ),
        dry: bool = typer.Option(
            False, "--dry-run", help="Show counts by agency and variant; send nothing."
        ),
        test_to: str | None = typer.Option(
            None, "--test-to", help="Send one [TEST] copy of each variant to this address only."
        ),
        retry_unknown: bool = typer.Option(
            False,
            "--retry-unknown",
            help="Resend deliveries whose outcome is unknown (they may arrive twice).",
        ),
        resume: bool = typer.Option(False, "--resume", help="Resume a send that a person stopped."),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        now: bool = typer.Option(
            False, "--now", help="Send now even though its scheduled slot is still to come."
        ),
    ) -> None:
        """Send MONTH's approved bulletin to its audience (resumes an interrupted send)."""
        settings = load_settings()
        engine = open_engine(settings)
        try:
            if not (dry or test_to or now):
                _refuse_early_send(engine, settings, month)
            if dry:
                with Session(engine) as session:
                    result = dry_run(session, settings, month)
                console.print(dry_run_table(result))
                console.print(f"would send {result.would_send:,} messages")
                return
            try:
                chosen = make_transport(settings, transport)
            except ValueError as exc:
                fail(str(exc))
            try:
                if test_to is not None:
                    with Session(engine) as session:
                        results = send_test_copies(
                            session, settings, month, to=test_to, transport=chosen
                        )
                    for agency, r in results:
                        mark = "[green]sent" if r.outcome is Outcome.sent else f"[red]{r.outcome}"
                        console.print(f"{agency}: {mark}[/] {r.error or ''}")
                    return
                if not yes:
                    with Session(engine) as session:
                        preview = dry_run(session, settings, month)
                    count = preview.would_send + (preview.unknown if retry_unknown else 0)
                    typer.confirm(
                        f"Send {month} to {count:,} recipients via {chosen.name}?", abort=True
                    )
                with dedicated_send_process(), RichProgress(f"sending {month}") as progress:
                    summary = send_bulletin(
                        engine,
                        settings,
                        month,
                        transport=chosen,
                        clock=SystemClock(),
                        retry_unknown=retry_unknown,
                        resume_stopped=resume,
                        progress=progress,
                    )
            except DispatchError as exc:
                fail(str(exc))
            except TransportError as exc:
                fail(f"{exc}{': ' + exc.detail if exc.detail else ''}")
            finally:
                chosen.close()
            console.print(summary_table(summary))
            for error in summary.errors:
                console.print(f"[red]{error}")
            if summary.totals.unknown:
                console.print(
                    f"[yellow]{summary.totals.unknown:,} deliveries have an unknown outcome; "
                    "provider events may settle them, or resend with --retry-unknown."
                )
            if summary.stopped:
                fail(summary.stopped)
        finally:
            engine.dispose()

    @app.command()
    def stop(
        month: str = typer.Argument(..., callback=month_arg, help="The month, YYYY-MM."),
    ) -> None:
        """Stop MONTH's send after its batch in flight; it stays stopped until resumed."""
        settings = load_settings()
        engine = open_engine(settings)
        try:
            with Session(engine) as session:
                try:
                    stop_send(session, month, clock=SystemClock())
                except DispatchError as exc:
                    fail(str(exc))
                session.commit()
        finally:
            engine.dispose()
        console.print(
            f"{month}'s send stops after the batch in flight. Resume it with "
            f"`newsletter bulletin send {month} --resume`."
        )
