"""`newsletter plan ...` commands: check and show the plan; import, export, history, diff, restore.

The plan lives in the database as revisions (:mod:`newsletter.plan.store`); ``campaigns/`` files
are its import and export format.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from newsletter.cli._common import console, fail, load_settings, open_engine

if TYPE_CHECKING:
    from sqlmodel import Session

    from newsletter.config import Settings
    from newsletter.models import Bulletin, PlanRevision
    from newsletter.plan import LoadResult, Plan, PlanError, SendInfo

app = typer.Typer(
    help="The campaign plan: check, show, import and export it; its revisions and their history.",
    no_args_is_help=True,
)

# Bulletins in these states will not (or will no longer) be sent by the schedule.
_DONE = frozenset({"sent", "cancelled", "sending"})  # BulletinStatus values


def _agencies(settings: Settings) -> tuple[list[str] | None, list[PlanError]]:
    from newsletter.agencies import AgencyFileError, read_agencies
    from newsletter.plan import PlanError

    path = settings.subscribers_dir / "agencies.yaml"
    try:
        return [a.slug for a in read_agencies(path)], []
    except AgencyFileError as exc:
        message = str(exc).removeprefix(f"{path}: ")
        return None, [PlanError(str(path), None, "", f"cannot check agency names: {message}")]


def _load(settings: Settings, plan_dir: Path) -> tuple[LoadResult, list[PlanError]]:
    """The plan files in ``plan_dir`` checked against the agency catalogue; writes nothing."""
    from newsletter.plan import load_plan

    agencies, extra = _agencies(settings)
    result = load_plan(plan_dir, agencies=agencies)
    return result, extra + result.errors


def _stored_revision(settings: Settings) -> tuple[int, LoadResult] | None:
    """The current revision checked, read without writing anything (not even creating the
    database); None when there is no database or no revision yet."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError, ProgrammingError
    from sqlmodel import Session

    from newsletter.db import make_engine
    from newsletter.plan import LoadResult, current_revision, plan_of

    url = settings.resolved_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (
        parsed.database and Path(parsed.database).is_file()
    ):
        return None
    agencies, extra = _agencies(settings)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            revision = current_revision(session)
            if revision is None:
                return None
            result = plan_of(session, revision, agencies=agencies)
    except (OperationalError, ProgrammingError):
        return None  # not migrated yet: no revision
    finally:
        engine.dispose()
    return revision.number, LoadResult(result.plan, extra + result.errors, result.skipped)


def _print_errors(errors: list[PlanError], where: object, skipped: Sequence[str] = ()) -> None:
    # Plain echo, not rich: an error line must stay one line (no wrapping) and its text may hold
    # brackets that rich would take for markup.
    for error in errors:
        typer.echo(str(error))
    noun = "error" if len(errors) == 1 else "errors"
    typer.echo(f"{len(errors)} {noun} in the plan at {where}; nothing was changed.")
    for note in skipped:
        typer.echo(f"Not checked yet: {note}.")


def _summary(plan: Plan) -> str:
    from newsletter.plan import is_extra

    months = [key for key in plan.themes if not is_extra(key)]
    extras = len(plan.themes) - len(months)
    kinds = Counter(item.kind.value for item in plan.catalogue.values())
    described = ", ".join(f"{count} {kind}s" for kind, count in sorted(kinds.items()))
    span = f"{months[0]} to {months[-1]}" if months else "no months"
    also = f", {extras} extra edition{'s' if extras != 1 else ''}" if extras else ""
    return (
        f"{len(months)} months ({span}){also}, {len(plan.catalogue)} catalogue items "
        f"({described}), {len(plan.files)} files, digest {plan.digest[:12]}"
    )


@app.command()
def check(
    path: Path | None = typer.Argument(
        None,
        help="A plan folder to check (default: the current revision in the database; before the "
        "first import, NEWSLETTER_PLAN_DIR).",
    ),
) -> None:
    """Check the plan and report every error as file:line: field: message (exit 1 on errors)."""
    settings = load_settings()
    where: object
    if path is not None:
        where = path
        result, errors = _load(settings, path)
    else:
        stored = _stored_revision(settings)
        if stored is None:
            where = settings.plan_dir
            result, errors = _load(settings, settings.plan_dir)
        else:
            where = f"revision {stored[0]}"
            result, errors = stored[1], stored[1].errors
    if errors or result.plan is None:
        _print_errors(errors, where, result.skipped)
        raise typer.Exit(1)
    typer.echo(f"plan OK: {_summary(result.plan)} ({where})")


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


def _slot_warning(
    info: SendInfo, bulletin: Bulletin | None, plan: Plan, *, now: datetime, settings: Settings
) -> str | None:
    """A warning when a slot falls today (local time) and its bulletin will not go out."""
    from newsletter.sendability import start_refusal

    zone = settings.zone
    if info.at.astimezone(zone).date() != now.astimezone(zone).date():
        return None
    when = f"{info.at.astimezone(zone):%H:%M}"
    if bulletin is None:
        return f"today's {when} slot ({info.month}) has no bulletin: nothing will be sent"
    if bulletin.status in _DONE:
        return None
    refusal = start_refusal(bulletin, plan)
    if refusal is None:
        return None
    return f"today's {when} slot: {refusal}"


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
    from sqlmodel import Session, select

    from newsletter.models import Bulletin
    from newsletter.plan import PlanInvalid, timetable
    from newsletter.sendability import status_label

    settings = load_settings()
    now = _parse_at(at, settings)
    from newsletter.plan import current_plan, current_revision

    engine = open_engine(settings)
    try:
        with Session(engine) as session:
            try:
                plan = current_plan(session, settings)
            except PlanInvalid as exc:
                _print_errors(exc.errors, "the current revision", exc.skipped)
                fail("the plan has errors; fix them (see `newsletter plan check`) to show it")
            session.commit()
            revision = current_revision(session)
            bulletins = {b.month: b for b in session.exec(select(Bulletin)).all()}
    finally:
        engine.dispose()
    number = revision.number if revision is not None else 0

    table = Table(title=f"Plan: revision {number}  (times in {settings.timezone})")
    # A bulletin's key is shown whole, however narrow the terminal: people copy it into commands.
    key_width = max((len(key) for key in plan.themes), default=7)
    table.add_column("month", no_wrap=True, min_width=key_width)
    for name in ("theme", "audience", "send time", "bulletin"):
        table.add_column(name)
    upcoming: SendInfo | None = None
    warnings: list[str] = []
    for info in timetable(plan):
        theme = plan.themes[info.month]
        bulletin = bulletins.get(info.month)
        status = str(bulletin.status) if bulletin is not None else None
        if bulletin is not None:
            label = status_label(bulletin, plan)
        elif info.at <= now:
            label = "never built: not sent"
        else:
            label = "not built"
        cells = (
            info.month,
            theme.title,
            ", ".join(audience.value for audience in theme.audiences),
            _when(info, settings),
            label,
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: titles are not rich markup
        if upcoming is None and info.at > now and status not in _DONE:
            upcoming = info
        warning = _slot_warning(info, bulletin, plan, now=now, settings=settings)
        if warning:
            warnings.append(warning)
    console.print(table)
    for warning in warnings:
        console.print(f"Warning: {warning}", markup=False, style="bold red", soft_wrap=True)
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


def _by(value: str) -> str:
    from newsletter.activity import cli_actor

    return value.strip() or cli_actor()


@app.command("import")
def import_(
    path: Path | None = typer.Argument(
        None, help="The plan folder to import (default: NEWSLETTER_PLAN_DIR, normally campaigns/)."
    ),
    message: str = typer.Option("", "--message", "-m", help="Why: shown in the plan's history."),
    by: str = typer.Option(
        "", "--by", help="Who imports (shown in the history; default: cli:<your user name>)."
    ),
) -> None:
    """Import plan files as a new revision, after the same checks as `plan check`.

    Nothing changes when the files equal the current revision or have errors. Months already sent
    keep their theme as it was sent.
    """
    from sqlmodel import Session

    from newsletter.activity import cli_actor, record
    from newsletter.plan import PlanInvalid, agency_slugs, import_directory

    settings = load_settings()
    folder = path if path is not None else settings.plan_dir
    engine = open_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                saved = import_directory(
                    session,
                    folder,
                    agencies=agency_slugs(settings),
                    author=_by(by),
                    message=message or f"imported {folder}",
                )
            except PlanInvalid as exc:
                session.rollback()
                _print_errors(exc.errors, folder, exc.skipped)
                raise typer.Exit(1) from None
            if saved.created:
                record(
                    session,
                    actor=cli_actor(),
                    action="plan.import",
                    object=f"plan:revision {saved.revision.number}",
                    detail=f"imported {folder} as revision {saved.revision.number}",
                )
            session.commit()
    finally:
        engine.dispose()
    for month in saved.kept_as_sent:
        typer.echo(f"{month} was sent already: its theme is kept as it was sent")
    if not saved.created:
        typer.echo(
            f"no changes: the files equal revision {saved.revision.number}; nothing was imported"
        )
        return
    assert saved.plan is not None
    typer.echo(f"imported {folder} as revision {saved.revision.number}: {_summary(saved.plan)}")


@app.command()
def export(
    path: Path = typer.Argument(..., help="The folder to write the plan files into."),
    revision: int | None = typer.Option(
        None, "--revision", "-r", help="Which revision (default: the current one)."
    ),
) -> None:
    """Write a revision as plan files (plan.yaml, catalogue/, themes/) into PATH.

    Plan files in PATH that the revision does not have are removed, so PATH is the revision.
    """
    from sqlmodel import Session

    from newsletter.plan import (
        PlanInvalid,
        RevisionNotFound,
        current_plan,
        export_documents,
        get_revision,
    )

    settings = load_settings()
    engine = open_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            if revision is None:
                try:
                    current_plan(session, settings)  # the first start imports the plan folder
                except PlanInvalid as exc:
                    _print_errors(exc.errors, "the current revision")
                    fail("there is no plan revision to export yet")
                session.commit()
            try:
                chosen = (
                    get_revision(session, revision)
                    if revision is not None
                    else _require_current(session)
                )
            except RevisionNotFound as exc:
                fail(str(exc))
    finally:
        engine.dispose()
    try:
        written, removed = export_documents(chosen.documents, path)
    except OSError as exc:
        fail(f"cannot write {exc.filename or path}: {exc.strerror}")
    for rel in removed:
        typer.echo(f"removed {path / rel} (not in revision {chosen.number})")
    typer.echo(
        f"exported revision {chosen.number} to {path}: {len(chosen.documents)} files, "
        f"{len(written)} written"
    )


def _require_current(session: Session) -> PlanRevision:
    from newsletter.plan import current_revision

    current = current_revision(session)
    if current is None:
        fail("there is no plan revision yet; import one (newsletter plan import)")
    return current


@app.command()
def history(
    limit: int = typer.Option(20, "--limit", "-n", help="How many revisions, newest first."),
) -> None:
    """The plan's revisions, newest first: number, when, who, what and why."""
    from sqlmodel import Session

    from newsletter.plan import revisions

    settings = load_settings()
    engine = open_engine(settings)
    try:
        with Session(engine) as session:
            rows = revisions(session, limit=limit)
    finally:
        engine.dispose()
    if not rows:
        typer.echo("no plan revisions yet (newsletter plan import loads one)")
        return
    table = Table("revision", "when", "by", "action", "message", title="Plan history")
    for row in rows:
        when = row.created_at.astimezone(settings.zone)
        action = row.action
        if row.restored_from is not None:
            action += f" of {row.restored_from}"
        cells = (str(row.number), f"{when:%d %b %Y %H:%M}", row.author, action, row.message)
        table.add_row(*(Text(cell) for cell in cells))
    console.print(table)


@app.command()
def diff(
    old: int = typer.Argument(..., help="The older revision."),
    new: int | None = typer.Argument(None, help="The newer revision (default: the current one)."),
) -> None:
    """What changed between two revisions, file by file (a unified diff)."""
    from sqlmodel import Session

    from newsletter.plan import RevisionNotFound, diff_revisions

    settings = load_settings()
    engine = open_engine(settings)
    try:
        with Session(engine) as session:
            target = new if new is not None else _require_current(session).number
            try:
                text = diff_revisions(session, old, target)
            except RevisionNotFound as exc:
                fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(text or f"revisions {old} and {target} are the same", nl=not text)


@app.command()
def restore(
    number: int = typer.Argument(..., help="The revision to bring back."),
    message: str = typer.Option("", "--message", "-m", help="Why: shown in the plan's history."),
    by: str = typer.Option("", "--by", help="Who restores (default: cli:<your user name>)."),
) -> None:
    """Make an old revision current again, as a new revision (history is kept)."""
    from sqlmodel import Session

    from newsletter.activity import cli_actor, record
    from newsletter.plan import PlanInvalid, RevisionNotFound, agency_slugs, restore_revision

    settings = load_settings()
    engine = open_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            current = _require_current(session)
            try:
                saved = restore_revision(
                    session,
                    number,
                    base=current.number,
                    author=_by(by),
                    message=message,
                    agencies=agency_slugs(settings),
                )
            except RevisionNotFound as exc:
                fail(str(exc))
            except PlanInvalid as exc:
                session.rollback()
                _print_errors(exc.errors, f"revision {number}")
                raise typer.Exit(1) from None
            if saved.created:
                record(
                    session,
                    actor=cli_actor(),
                    action="plan.restore",
                    object=f"plan:revision {saved.revision.number}",
                    detail=f"restored revision {number} as revision {saved.revision.number}",
                )
            session.commit()
    finally:
        engine.dispose()
    for month in saved.kept_as_sent:
        typer.echo(f"{month} was sent already: its theme is kept as it was sent")
    if not saved.created:
        typer.echo(f"revision {number} equals the current revision; nothing changed")
        return
    typer.echo(f"restored revision {number} as revision {saved.revision.number}")
