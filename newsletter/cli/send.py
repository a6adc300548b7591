"""`newsletter bulletin send MONTH`: send (or resume), dry-run counts, test copies."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from newsletter.cli._common import (
    BULLETIN_HELP,
    bulletin_arg,
    console,
    fail,
    load_settings,
    open_engine,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from newsletter.config import Settings
    from newsletter.dispatch import DryRun, SendSummary, TestCopy


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
    from sqlmodel import Session, col, select

    from newsletter.clock import SystemClock
    from newsletter.models import Bulletin, BulletinStatus

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


def _refuse_unsendable(engine: Engine, settings: Settings, month: str) -> None:
    """The one sendability rule (newsletter.sendability): out of date, paused, not approved."""
    from sqlmodel import Session, col, select

    from newsletter.models import Bulletin
    from newsletter.plan import PlanInvalid, load_checked_plan
    from newsletter.sendability import start_refusal

    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None:
        return  # dispatch explains what is missing
    try:
        plan = load_checked_plan(settings)
    except PlanInvalid:
        plan = None
    refusal = start_refusal(bulletin, plan)
    if refusal is not None:
        fail(refusal)


def _confirm(question: str) -> None:
    """Ask on a terminal; without one (a script, cron, CI) refuse rather than guess."""
    if not sys.stdin.isatty():
        fail("refusing to send without confirmation; pass --yes to send from a script", 2)
    if not typer.confirm(question):
        fail("not sent", 1)


def _print_test_copies(copies: list[TestCopy], *, to: str, transport: str) -> None:
    from newsletter.transports import Outcome

    for copy in copies:
        if copy.result.outcome is Outcome.sent:
            console.print(
                f"[green]sent[/] {copy.agency_name} proof to {to} via {transport}: "
                f"{escape(copy.subject)}",
                markup=True,
                soft_wrap=True,
            )
        else:
            console.print(
                f"[red]{copy.result.outcome}[/] {copy.agency_name} proof to {to}: "
                f"{copy.result.error or ''}",
                soft_wrap=True,
            )
    if copies:
        console.print(
            'Each proof\'s "view in browser" link opens its preview (not the public '
            f"archive), e.g. {copies[0].preview_url}",
            soft_wrap=True,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def send(
        month: str = typer.Argument(..., callback=bulletin_arg, help=BULLETIN_HELP),
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
            None,
            "--test-to",
            metavar="ADDRESS",
            help="Send one [TEST] proof copy of each variant to this address only.",
        ),
        agency: str | None = typer.Option(
            None,
            "--agency",
            "-a",
            metavar="AGENCY",
            help="With --test-to: only this agency's variant (an agency slug).",
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
        from sqlmodel import Session

        from newsletter.clock import SystemClock
        from newsletter.dispatch import DispatchError, dry_run, send_bulletin, send_test_copies
        from newsletter.transports import TransportError, make_transport

        if agency is not None and test_to is None:
            fail("--agency chooses the variant of a proof copy; use it with --test-to ADDRESS", 2)
        settings = load_settings()
        engine = open_engine(settings)
        try:
            if not (dry or test_to):
                _refuse_unsendable(engine, settings, month)
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
                        copies = send_test_copies(
                            session,
                            settings,
                            month,
                            to=test_to,
                            transport=chosen,
                            now=SystemClock().now(),
                            agencies=[agency] if agency else None,
                        )
                    _print_test_copies(copies, to=test_to, transport=chosen.name)
                    return
                if not yes:
                    with Session(engine) as session:
                        preview = dry_run(session, settings, month)
                    count = preview.would_send + (preview.unknown if retry_unknown else 0)
                    _confirm(f"Send {month} to {count:,} recipients via {chosen.name}?")
                from newsletter.cli.progress import RichProgress
                from newsletter.cli.tuning import dedicated_send_process

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
                        started_by="the command line",
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
        month: str = typer.Argument(..., callback=bulletin_arg, help=BULLETIN_HELP),
    ) -> None:
        """Stop MONTH's send after its batch in flight; it stays stopped until resumed."""
        from sqlmodel import Session

        from newsletter.clock import SystemClock
        from newsletter.dispatch import DispatchError, stop_send

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
