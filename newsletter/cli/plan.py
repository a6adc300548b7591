"""`newsletter plan ...` commands: check the plan in campaigns/, and show its calendar."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text
from sqlmodel import Session, col, select

from newsletter.agencies import AgencyFileError, read_agencies
from newsletter.cli._common import console, fail, load_settings, open_engine
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan import LoadResult, PlanError, SendInfo, load_plan, timetable

app = typer.Typer(help="The campaign plan in campaigns/: check and show it.", no_args_is_help=True)

# Bulletins in these states will not (or will no longer) be sent by the schedule.
_DONE = {BulletinStatus.sent, BulletinStatus.cancelled, BulletinStatus.sending}


def _load(settings: Settings, plan_dir: Path) -> tuple[LoadResult, list[PlanError]]:
    """The plan checked against the agency catalogue; reads files only, writes nothing."""
    path = settings.subscribers_dir / "agencies.yaml"
    try:
        agencies: list[str] | None = [a.slug for a in read_agencies(path)]
        extra: list[PlanError] = []
    except AgencyFileError as exc:
        agencies = None
        message = str(exc).removeprefix(f"{path}: ")
        extra = [PlanError(str(path), None, "", f"cannot check agency names: {message}")]
    result = load_plan(plan_dir, agencies=agencies)
    return result, extra + result.errors


def _print_errors(errors: list[PlanError], plan_dir: Path) -> None:
    # Plain echo, not rich: an error line must stay one line (no wrapping) and its text may hold
    # brackets that rich would take for markup.
    for error in errors:
        typer.echo(str(error))
    noun = "error" if len(errors) == 1 else "errors"
    typer.echo(f"{len(errors)} {noun} in the plan at {plan_dir}; nothing was changed.")


@app.command()
def check(
    path: Path | None = typer.Argument(
        None, help="The plan folder (default: NEWSLETTER_PLAN_DIR, normally campaigns/)."
    ),
) -> None:
    """Check the plan and report every error as file:line: field: message (exit 1 on errors)."""
    settings = load_settings()
    plan_dir = path if path is not None else settings.plan_dir
    result, errors = _load(settings, plan_dir)
    if errors or result.plan is None:
        _print_errors(errors, plan_dir)
        raise typer.Exit(1)
    plan = result.plan
    months = list(plan.themes)
    kinds = Counter(item.kind.value for item in plan.catalogue.values())
    described = ", ".join(f"{count} {kind}s" for kind, count in sorted(kinds.items()))
    span = f"{months[0]} to {months[-1]}" if months else "no months"
    typer.echo(
        f"plan OK: {len(months)} months ({span}), {len(plan.catalogue)} catalogue items "
        f"({described}), {len(plan.files)} files, digest {plan.digest[:12]}"
    )


def _when(info: SendInfo, settings: Settings) -> str:
    local = info.at.astimezone(settings.zone)
    text = f"{local:%a %d %b %Y %H:%M %Z}"
    if info.date_overridden:
        text += " (date set in theme)"
    elif info.time_overridden:
        text += " (time set in theme)"
    if info.moved_from is not None:
        text += f" (moved from {info.moved_from:%a %d %b}: {info.moved_because})"
    return text


def _parse_at(value: str | None, settings: Settings) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{value!r} is not a date and time; write it like 2026-07-01T09:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.astimezone(UTC)


@app.command()
def show(
    at: str | None = typer.Option(
        None,
        "--at",
        help="Find the next send after this local date and time (default: now), "
        "e.g. 2026-07-01T09:00.",
    ),
) -> None:
    """The plan's months: theme, audience, send time, bulletin status and the next send."""
    settings = load_settings()
    now = _parse_at(at, settings)
    result, errors = _load(settings, settings.plan_dir)
    if errors or result.plan is None:
        _print_errors(errors, settings.plan_dir)
        fail("the plan has errors; fix them (see `newsletter plan check`) to show it")
    plan = result.plan
    engine = open_engine(settings)
    try:
        with Session(engine) as session:
            rows = session.exec(select(col(Bulletin.month), col(Bulletin.status))).all()
    finally:
        engine.dispose()
    statuses = {month: BulletinStatus(status) for month, status in rows}

    table = Table(title=f"Plan: {settings.plan_dir}  (times in {settings.timezone})")
    for name in ("month", "theme", "audience", "send time", "bulletin"):
        table.add_column(name)
    upcoming: SendInfo | None = None
    for info in timetable(plan):
        theme = plan.themes[info.month]
        status = statuses.get(info.month)
        cells = (
            info.month,
            theme.title,
            ", ".join(audience.value for audience in theme.audiences),
            _when(info, settings),
            status.value if status is not None else "not built",
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: titles are not rich markup
        if upcoming is None and info.at > now and status not in _DONE:
            upcoming = info
    console.print(table)
    if upcoming is None:
        console.print(
            f"Next send: none planned after {now.astimezone(settings.zone):%d %b %Y}",
            markup=False,
        )
    else:
        theme = plan.themes[upcoming.month]
        console.print(
            f"Next send: {upcoming.month} {theme.title}, {_when(upcoming, settings)}",
            markup=False,
        )
