"""The plan's calendar and history: every month's send time and status, revisions compared and
restored. The month editor is :mod:`.themes`, the catalogue :mod:`.catalogue`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, select

from newsletter.activity import record
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus, PlanRevision, User
from newsletter.plan import (
    Plan,
    PlanInvalid,
    RevisionNotFound,
    SendInfo,
    StaleRevision,
    agency_slugs,
    calendar_month,
    current_plan,
    current_revision,
    diff_revisions,
    get_revision,
    is_extra,
    key_label,
    restore_revision,
    revisions,
    send_info,
)
from newsletter.schedule import MonthOutlook
from newsletter.sendability import is_out_of_date
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.render import flash, render, see_other

router = staff_router()
Editor = Annotated[User, Depends(require("editor"))]

AHEAD_MONTHS = 18


@dataclass(frozen=True)
class PlanState:
    """The current revision and its plan (None, with the errors, when it cannot be read)."""

    revision: PlanRevision | None
    plan: Plan | None
    problem: list[str]


def load_state(db: Session, settings: Settings) -> PlanState:
    try:
        plan = current_plan(db, settings)
    except PlanInvalid as exc:
        db.rollback()
        return PlanState(current_revision(db), None, [str(e) for e in exc.errors])
    db.commit()  # the first start may have imported the plan folder
    return PlanState(current_revision(db), plan, [])


def add_months(month: str, count: int) -> str:
    year, mon = (int(part) for part in month.split("-"))
    index = year * 12 + (mon - 1) + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_name(month: str) -> str:
    """'July 2026' for a month's bulletin, 'July 2026 (correction)' for an extra edition."""
    return key_label(month)


# --- status -----------------------------------------------------------------------------------

# (label, tag colour) of each status the calendar shows.
STATUS_TAGS = {
    "not planned": "grey",
    "planned": "grey",
    "draft": "yellow",
    "awaiting approval": "yellow",
    "approved": "green",
    "out of date": "red",
    "paused": "purple",
    "sending": "",
    "sent": "green",
    "missed": "red",
    "cancelled": "grey",
    "failed": "red",
}

_BUILT = {BulletinStatus.draft, BulletinStatus.approved, BulletinStatus.scheduled}


def status_of(bulletin: Bulletin | None, plan: Plan | None) -> str:
    if bulletin is None:
        return "planned"
    status = BulletinStatus(bulletin.status)
    # Out of date as sendability judges it: its own month (or extra edition) changed, not any
    # other part of the plan (adding an extra edition leaves the month's draft as it is).
    if status in _BUILT and plan is not None and is_out_of_date(bulletin, plan):
        return "out of date"
    if status in _BUILT and bulletin.schedule_paused:
        return "paused"
    if status == BulletinStatus.draft:
        return "awaiting approval" if bulletin.checks_passed else "draft"
    if status == BulletinStatus.scheduled:
        return "approved"
    return str(status)


@dataclass(frozen=True)
class CalendarRow:
    month: str  # the issue key: a month, or an extra edition of it (2026-07-correction)
    name: str
    theme: str | None
    audience: str
    info: SendInfo | None
    status: str
    tag: str
    next_action: str
    next_at: datetime | None
    sent: bool
    extra: bool = False  # an extra edition, listed under its month
    calendar_month: str = ""  # the month it belongs to (its own key for a month's bulletin)


def outlook_rows(
    engine: object, settings: Settings, plan: Plan, clock: Clock, now: datetime
) -> list[MonthOutlook]:
    """Each month's send time, status and next step, as the scheduler sees them (`schedule
    list` says the same), for ``plan`` as already read."""
    from newsletter.schedule import Lifecycle, default_deps, outlook

    deps = dataclasses.replace(default_deps(), load_plan=lambda _settings: plan)
    lifecycle = Lifecycle(engine, settings, clock=clock, deps=deps)  # type: ignore[arg-type]
    rows, _problem = outlook(lifecycle, now)
    return rows


def _outlook(
    engine: object, settings: Settings, plan: Plan, clock: Clock, now: datetime
) -> dict[str, tuple[str, datetime | None]]:
    """Each open month's next step, as the scheduler sees it (`schedule list` says the same)."""
    rows = outlook_rows(engine, settings, plan, clock, now)
    return {row.month: (row.next_action, row.next_at) for row in rows}


def calendar_rows(
    db: Session, settings: Settings, plan: Plan, *, clock: Clock
) -> list[CalendarRow]:
    """Every month from the first planned or built to 18 months ahead; a month's extra
    editions follow it, each with its own send time, status and next step."""
    now = clock.now()
    this_month = f"{now.astimezone(settings.zone):%Y-%m}"
    bulletins = {b.month: b for b in db.exec(select(Bulletin)).all()}
    keys = set(plan.themes) | set(bulletins)
    extras: dict[str, list[str]] = {}
    for key in sorted(keys):
        if is_extra(key):
            extras.setdefault(calendar_month(key), []).append(key)
    months = {calendar_month(key) for key in keys}
    first = min(months | {this_month})
    last = add_months(this_month, AHEAD_MONTHS)
    # The outlook reads through a session of its own; on SQLite every transaction takes the
    # write lock (BEGIN IMMEDIATE), so end this one first.
    db.commit()
    steps = _outlook(db.get_bind(), settings, plan, clock, now)
    rows = []
    month = first
    while month <= max(last, max(months | {this_month})):
        if month in plan.themes or month in bulletins:
            rows.append(
                _row(month, plan, bulletin=bulletins.get(month), steps=steps, this_month=this_month)
            )
        elif month >= this_month:
            rows.append(
                CalendarRow(
                    month,
                    month_name(month),
                    None,
                    "",
                    None,
                    "not planned",
                    "grey",
                    "plan a theme for this month",
                    None,
                    False,
                    calendar_month=month,
                )
            )
        for key in extras.get(month, []):
            rows.append(
                _row(key, plan, bulletin=bulletins.get(key), steps=steps, this_month=this_month)
            )
        month = add_months(month, 1)
    return rows


def _row(
    key: str,
    plan: Plan,
    *,
    bulletin: Bulletin | None,
    steps: dict[str, tuple[str, datetime | None]],
    this_month: str,
) -> CalendarRow:
    """One bulletin's row: planned (a theme), built (a bulletin), or both."""
    theme = plan.themes.get(key)
    status = status_of(bulletin, plan)
    action, at = steps.get(key, ("none", None))
    if bulletin is None and calendar_month(key) < this_month:
        status, action, at = "missed", "none: the month has passed unsent", None
    return CalendarRow(
        month=key,
        name=month_name(key),
        theme=theme.title if theme is not None else (bulletin.theme if bulletin else None),
        audience=", ".join(a.value for a in theme.audiences) if theme else "",
        info=send_info(plan, theme) if theme is not None else None,
        status=status,
        tag=STATUS_TAGS.get(status, ""),
        next_action=action,
        next_at=at,
        sent=bulletin is not None
        and BulletinStatus(bulletin.status)
        in {BulletinStatus.sending, BulletinStatus.sent, BulletinStatus.failed},
        extra=is_extra(key),
        calendar_month=calendar_month(key),
    )


@router.get("/calendar", response_class=HTMLResponse)
def calendar(
    request: Request, staff: CurrentStaff, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """Past months and the next 18: theme, audience, send time, status and the next step."""
    state = load_state(db, settings)
    rows = calendar_rows(db, settings, state.plan, clock=clock) if state.plan else []
    return render(
        request,
        "staff/plan/calendar.html",
        rows=rows,
        state=state,
        can_edit=staff.has("editor"),
        zone=settings.timezone,
        this_month=f"{clock.now().astimezone(settings.zone):%Y-%m}",
    )


# --- history ----------------------------------------------------------------------------------


@router.get("/plan", response_class=HTMLResponse)
def history(
    request: Request, staff: CurrentStaff, db: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """The plan's revisions, newest first, with compare and restore."""
    state = load_state(db, settings)
    return render(
        request,
        "staff/plan/history.html",
        revisions=revisions(db, limit=200),
        state=state,
        can_edit=staff.has("editor"),
    )


@router.get("/plan/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int, Query(ge=1)],
) -> HTMLResponse:
    """What changed between two revisions, file by file."""
    try:
        text = diff_revisions(db, old, new)
    except RevisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    current = current_revision(db)
    return render(
        request,
        "staff/plan/compare.html",
        old=get_revision(db, old),
        new=get_revision(db, new),
        diff=diff_lines(text),
        current=current.number if current else None,
        can_edit=staff.has("editor"),
    )


def diff_lines(text: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) for the page: kind is added, removed, file or context."""
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        else:
            kind = "context"
        out.append((kind, line))
    return out


@router.post("/plan/restore", response_model=None)
def restore(
    request: Request,
    staff: CurrentStaff,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    number: Annotated[int, Form(ge=1)],
    base: Annotated[int, Form(ge=1)],
    message: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Make an old revision current again, as a new revision."""
    try:
        saved = restore_revision(
            db,
            number,
            base=base,
            author=editor.email,
            message=message,
            agencies=agency_slugs(settings),
        )
    except RevisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except (PlanInvalid, StaleRevision) as exc:
        db.rollback()
        return render(
            request,
            "staff/plan/refused.html",
            status_code=409 if isinstance(exc, StaleRevision) else 400,
            heading=f"Revision {number} was not restored",
            errors=[str(e) for e in exc.errors] if isinstance(exc, PlanInvalid) else [],
            stale=exc if isinstance(exc, StaleRevision) else None,
            diff=diff_lines(exc.diff) if isinstance(exc, StaleRevision) else [],
        )
    if saved.created:
        record(
            db,
            actor=editor,
            action="plan.restore",
            object=f"plan:revision {saved.revision.number}",
            detail=f"restored revision {number} as revision {saved.revision.number}",
        )
        flash(staff, f"Revision {number} restored as revision {saved.revision.number}")
    else:
        flash(staff, f"Revision {number} is the same as the current plan: nothing changed")
    db.commit()
    return see_other("/admin/plan")
