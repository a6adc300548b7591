"""`newsletter bulletin ...` commands: build, preview, approve. (`send` lives in cli/send.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from newsletter.cli._common import (
    BULLETIN_HELP,
    bulletin_arg,
    console,
    fail,
    load_settings,
    session_for,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from newsletter.config import Settings
    from newsletter.models import Bulletin
    from newsletter.plan import Plan

app = typer.Typer(
    help="Assemble, preview, approve and send a month's bulletin.", no_args_is_help=True
)

PREVIEW_SUBSCRIBER = "preview"
PREVIEW_NAME = "Sample Reader"


def _plan(settings: Settings) -> Plan:
    from newsletter.plan import PlanInvalid, load_checked_plan

    try:
        return load_checked_plan(settings)
    except PlanInvalid as exc:
        for error in exc.errors:
            console.print(str(error), markup=False, soft_wrap=True)
        fail(f"the plan has {len(exc.errors)} error(s); fix them first (newsletter plan check)")


def _bulletin(session: Session, month: str) -> Bulletin:
    from sqlmodel import col, select

    from newsletter.models import Bulletin

    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None:
        fail(
            f"there is no bulletin for {month}; build it first (newsletter bulletin build {month})"
        )
    return bulletin


@app.command()
def build(
    month: str = typer.Argument(..., help=BULLETIN_HELP, callback=bulletin_arg),
) -> None:
    """Assemble (or rebuild) MONTH's draft: one variant per agency, links registered, checked."""
    from newsletter.assemble import BuildError, build_bulletin
    from newsletter.clock import SystemClock

    settings = load_settings()
    plan = _plan(settings)
    with session_for(settings) as session:
        try:
            result = build_bulletin(session, settings, plan, month, clock=SystemClock())
        except BuildError as exc:
            session.rollback()
            fail(str(exc))
        session.commit()

    bulletin = result.bulletin
    console.print(f"[bold]{bulletin.month}: {bulletin.theme}[/] (draft, {len(result.links)} links)")
    variants = Table("agency", "size KB", "links", title="Variants")
    for variant in result.variants:
        variants.add_row(
            variant.agency, f"{variant.html_bytes / 1024:.1f}", str(variant.link_count)
        )
    console.print(variants)
    checks = Table("check", "agency", "result", "detail", title="Checks")
    for check in result.checks:
        # Passing per-agency checks are shown once, for the first agency, to keep it readable.
        if check.passed and check.agency not in (None, result.variants[0].agency):
            continue
        checks.add_row(
            check.name,
            check.agency or "(all)",
            "[green]pass[/]" if check.passed else "[bold red]FAIL[/]",
            check.detail,
        )
    console.print(checks)
    if result.checks_passed:
        console.print(
            f"Every check passed. Preview it (newsletter bulletin preview {month} --agency "
            f"{result.variants[0].agency}), then approve it (newsletter bulletin approve {month})."
        )
    else:
        console.print("[bold red]Checks failed:[/] this bulletin cannot be approved until fixed.")
        raise typer.Exit(1)


@app.command()
def preview(
    month: str = typer.Argument(..., help=BULLETIN_HELP, callback=bulletin_arg),
    agency: str | None = typer.Option(
        None, "--agency", "-a", help="Agency slug (default: the first agency)."
    ),
    text: bool = typer.Option(False, "--text", help="The plain-text part instead of the HTML."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to FILE, not stdout."),
) -> None:
    """Exactly what AGENCY's subscribers would receive, with sample values filled in."""
    from sqlmodel import col, select

    from newsletter.models import Agency, Variant
    from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
    from newsletter.tokens import agency_token

    settings = load_settings()
    with session_for(settings) as session:
        bulletin = _bulletin(session, month)
        query = select(Variant).where(col(Variant.bulletin_id) == bulletin.id)
        if agency is not None:
            query = query.where(col(Variant.agency) == agency)
        else:
            query = query.join(Agency, col(Agency.slug) == col(Variant.agency)).order_by(
                col(Agency.position), col(Agency.slug)
            )
        variant = session.exec(query).first()
        if variant is None:
            known = session.exec(
                select(Variant.agency).where(col(Variant.bulletin_id) == bulletin.id)
            ).all()
            fail(f"no variant for agency {agency!r}; the variants are: {', '.join(known)}")
        assert bulletin.id is not None
        values = {
            TOKEN: agency_token(settings.secret, bulletin.id, variant.agency),
            SUBSCRIBER: PREVIEW_SUBSCRIBER,
            NAME: PREVIEW_NAME,
        }
        body = (
            personalise(variant.text, values)
            if text
            else personalise(variant.html, html_values(values))
        )
    if out is None:
        typer.echo(body, nl=False)
        return
    try:
        out.write_text(body, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    console.print(
        f"wrote {out} ({len(body.encode()) / 1024:.1f} KB, {variant.agency}, "
        f"{'text' if text else 'HTML'})"
    )


@app.command()
def approve(
    month: str = typer.Argument(..., help=BULLETIN_HELP, callback=bulletin_arg),
    by: str = typer.Option(
        ..., "--by", help="Who approves: the address of a person with the approver role."
    ),
) -> None:
    """Approve MONTH's draft for sending; refused, with the reasons, while anything is wrong.

    BY must hold the approver role, and (four eyes, unless NEWSLETTER_FOUR_EYES=false) must not
    have changed MONTH's part of the plan since its last approval."""
    from newsletter.accounts import approvers
    from newsletter.activity import cli_actor, record
    from newsletter.assemble import ApprovalRefused, approve_bulletin
    from newsletter.clock import SystemClock

    settings = load_settings()
    plan = _plan(settings)
    with session_for(settings) as session:
        if by.strip().lower() not in approvers(session, settings.approvers):
            fail(f"{by} is not one of the approvers (the people with the approver role)")
        try:
            bulletin = approve_bulletin(session, settings, plan, month, by=by, clock=SystemClock())
        except ApprovalRefused as exc:
            session.rollback()
            for reason in exc.reasons:
                console.print(f"- {reason}", markup=False, soft_wrap=True)
            fail(f"bulletin {month} was not approved")
        record(
            session,
            actor=cli_actor(),
            action="bulletin.approve",
            object=f"bulletin:{month}",
            detail=f"approved as {by} from the command line",
        )
        session.commit()
    when = bulletin.send_at.strftime("%Y-%m-%d %H:%M UTC") if bulletin.send_at else "not set"
    console.print(f"bulletin {month} approved by {by}; send slot {when}")


@app.command("check-links")
def check_links(
    month: str = typer.Argument(..., help=BULLETIN_HELP, callback=bulletin_arg),
    agency: str | None = typer.Option(
        None, "--agency", "-a", help="Only the links of this agency's variant."
    ),
) -> None:
    """Fetch every link target of MONTH's bulletin; exit 1 when any is broken."""
    from newsletter.assemble import LinkStatus, bulletin_targets, check_targets

    settings = load_settings()
    with session_for(settings) as session:
        bulletin = _bulletin(session, month)
        assert bulletin.id is not None
        links = bulletin_targets(session, bulletin.id, agency=agency)
    if not links:
        fail(f"bulletin {month} has no links to check" + (f" for {agency}" if agency else ""))
    targets = list(dict.fromkeys(link.url for link in links))
    console.print(f"checking {len(targets)} link targets of {month}…")
    outcomes = check_targets(
        targets,
        allow_private=settings.linkcheck_allow_private,
        timeout=settings.linkcheck_timeout,
    )
    where = {link.url: link for link in links}
    # One line per target that needs attention (broken first), so a long URL never wraps a table.
    for outcome in sorted(outcomes, key=lambda o: (not o.broken, o.url)):
        if outcome.status is LinkStatus.ok:
            continue
        link = where[outcome.url]
        label = "[bold red]BROKEN[/]" if outcome.broken else "[yellow]slow[/]"
        item = link.catalogue_id or link.title or link.kind
        console.print(
            f"{label} {link.section} · {item}: {outcome.url} — {outcome.problem}", soft_wrap=True
        )
    broken = sum(outcome.broken for outcome in outcomes)
    slow = sum(outcome.status is LinkStatus.slow for outcome in outcomes)
    summary = f"{len(outcomes)} targets: {broken} broken, {slow} slow"
    if broken:
        fail(f"{summary}; fix the broken targets in the plan before approval")
    console.print(summary)
