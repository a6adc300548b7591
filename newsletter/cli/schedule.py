"""`newsletter schedule ...` commands: when bulletins go out, and holding one back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer
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
    from newsletter.config import Settings

app = typer.Typer(help="When bulletins go out: list, next, pause, resume.", no_args_is_help=True)


def _when(moment: datetime | None, settings: Settings) -> str:
    from newsletter.schedule import local_text

    return local_text(moment, settings.zone) if moment is not None else "-"


@app.command("list")
def list_() -> None:
    """Upcoming jobs, and each bulletin's send time, status and next action."""
    from newsletter.clock import SystemClock
    from newsletter.schedule import Lifecycle, default_deps, outlook, stored_jobs

    settings = load_settings()
    engine = open_engine(settings)
    try:
        now = SystemClock().now()
        jobs = stored_jobs(engine)
        lifecycle = Lifecycle(engine, settings, clock=SystemClock(), deps=default_deps())
        months, problem = outlook(lifecycle, now)
    finally:
        engine.dispose()

    console.print(f"[bold]Scheduler jobs[/] (times in {settings.timezone})")
    if not jobs:
        console.print(
            "  none stored: no scheduler has run on this database yet "
            "(start one with `newsletter run` or `python scheduler.py`)"
        )
    for job_id, next_run in jobs:
        console.print(f"  {job_id:<16} next run {_when(next_run, settings)}")
    if problem:
        console.print(f"[bold red]The plan cannot be read:[/] {problem}")
    table = Table(title="Bulletins", title_justify="left")
    # A bulletin's key is shown whole, however narrow the terminal: people copy it into commands.
    table.add_column(
        "month", no_wrap=True, min_width=max((len(r.month) for r in months), default=7)
    )
    for heading in ("send time", "status", "paused", "next action", "when"):
        table.add_column(heading)
    for row in months:
        table.add_row(
            row.month,
            _when(row.slot, settings),
            row.status,
            "yes" if row.paused else "no",
            row.next_action,
            _when(row.next_at, settings),
        )
    console.print(table if months else "No bulletins planned or open.")


@app.command("next")
def next_(
    after: str | None = typer.Option(
        None,
        "--after",
        metavar="DATETIME",
        help="Start from this time (e.g. 2026-09-15T00:00; local time unless it has an offset).",
    ),
) -> None:
    """When the plan's default send slot next fires, in local time and UTC."""
    from newsletter.clock import SystemClock
    from newsletter.plan import SlotError, next_slot_after
    from newsletter.schedule import PlanUnavailable, default_deps, local_text

    settings = load_settings()
    start = SystemClock().now()
    if after is not None:
        try:
            start = datetime.fromisoformat(after)
        except ValueError:
            fail(f"--after {after!r} is not a date and time; write it as 2026-09-15T00:00")
        if start.tzinfo is None:
            start = start.replace(tzinfo=settings.zone)
    open_engine(settings).dispose()  # the plan is read from the database: migrate it first
    try:
        plan = default_deps().load_plan(settings)
        slot = next_slot_after(plan.slot, start)
    except (PlanUnavailable, SlotError) as exc:
        fail(str(exc))
    zone_name = plan.slot.timezone
    console.print(
        f"The default slot ({plan.slot.day} at {plan.slot.at:%H:%M}) next fires after "
        f"{start:%Y-%m-%d %H:%M} {start.tzname()}:"
    )
    console.print(f"  {slot:%Y-%m-%d %H:%M} {zone_name} ({slot:%A}, {slot.tzname()})")
    console.print(f"  {slot.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if settings.timezone != zone_name:
        console.print(f"  {local_text(slot, settings.zone)} ({settings.timezone})")
    theme = plan.themes.get(f"{slot:%Y-%m}")
    if theme is None:
        console.print(f"  No theme is planned for {slot:%Y-%m} yet.")
    elif theme.send_date is not None or theme.send_time is not None:
        console.print(f"  Note: the {slot:%Y-%m} theme sets its own send date or time.")


def _set_paused(month: str, paused: bool) -> None:
    from sqlmodel import Session

    from newsletter.clock import SystemClock
    from newsletter.schedule import ScheduleRefused, set_paused

    settings = load_settings()
    engine = open_engine(settings)
    try:
        with Session(engine) as session:
            try:
                bulletin = set_paused(session, month, paused=paused)
            except ScheduleRefused as exc:
                if "build it first" in str(exc):
                    fail(f"{exc}: newsletter bulletin build {month}")
                fail(str(exc))
            session.commit()
            send_at = bulletin.send_at
    finally:
        engine.dispose()
    when = _when(send_at, settings)
    if paused:
        console.print(
            f"{month} paused: it will not be sent at {when} until resumed "
            f"(newsletter schedule resume {month})."
        )
        return
    now = SystemClock().now()
    grace = timedelta(hours=settings.send_grace_hours)
    if send_at is None or now < send_at:
        console.print(f"{month} resumed: it goes out at {when} if approved and up to date.")
    elif now < send_at + grace:
        console.print(
            f"{month} resumed: its slot ({when}) has passed; it goes out at the next tick."
        )
    else:
        console.print(
            f"{month} resumed, but its slot ({when}) passed more than "
            f"{settings.send_grace_hours:g} hours ago: the scheduler will not send it. "
            f"To send it anyway: newsletter bulletin send {month}"
        )


@app.command()
def pause(month: str = typer.Argument(..., callback=bulletin_arg, help=BULLETIN_HELP)) -> None:
    """Hold a month's bulletin back: the scheduler will not send it until resumed."""
    _set_paused(month, True)


@app.command()
def resume(month: str = typer.Argument(..., callback=bulletin_arg, help=BULLETIN_HELP)) -> None:
    """Let the scheduler send a paused month's bulletin again."""
    _set_paused(month, False)
