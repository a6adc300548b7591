"""The staff home page (GET /admin/): what needs doing, by whom, and how the last bulletin did.

* **For you**: each open month's one next step (:func:`.bulletins.next_step`, the bulletin
  page's own rule) that the person's roles act on; an approver sees what awaits approval
  first, an editor what needs editing.
* **Next send**: the next month due to go out, its send time and what it still needs (theme
  planned, draft built, checks, approval, up to date with the plan, not paused), with the
  scheduler's next action (:func:`newsletter.schedule.outlook`, as ``schedule list`` says).
* **Alerts**: :func:`newsletter.alerts.collect`, each with what it means and a link to act.
* **Last bulletin**: the headline figures of the last bulletin sent, from the report cache
  (:func:`newsletter.reports.bulletin_headline`), linking to its report.

Every read is bounded by the number of open months, not by the history: the bulletins table
(one row a month), grouped counts along indexes, and the report cache.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from newsletter import alerts
from newsletter.assemble import approval_out_of_date, reviews
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan import Plan
from newsletter.reports import BulletinHeadline, bulletin_headline
from newsletter.schedule import (
    OPEN,
    MonthOutlook,
    SchedulerState,
    default_deps,
    leader_present,
    outlook,
    scheduler_state,
)
from newsletter.sendability import out_of_date, status_label
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, Staff, staff_router
from newsletter.web.staff.bulletins import NextStep, next_step
from newsletter.web.staff.plan import load_state, month_name, outlook_rows, status_of
from newsletter.web.staff.render import render

log = logging.getLogger(__name__)
router = staff_router()

# Statuses whose month may still need a person (besides the scheduler's open ones).
_NEEDS_PERSON = {BulletinStatus.missed, BulletinStatus.stopped, BulletinStatus.failed}
_FINISHED = {BulletinStatus.sent, BulletinStatus.cancelled, BulletinStatus.missed}


@dataclass(frozen=True)
class Need:
    """One thing the next send needs, done or not."""

    label: str
    done: bool
    detail: str = ""


@dataclass(frozen=True)
class MonthStep:
    month: str
    label: str
    theme: str
    status: str
    step: NextStep
    send_at: datetime | None


@dataclass(frozen=True)
class NextSend:
    month: str
    label: str
    theme: str
    slot: datetime
    status: str
    needs: list[Need]
    step: NextStep
    scheduler_action: str
    scheduler_at: datetime | None


def _label(bulletin: Bulletin, plan: Plan | None) -> str:
    """A draft as its page says it ("awaiting approval" once its checks pass); otherwise the
    sendability label ("scheduled, paused", "approved, out of date")."""
    if bulletin.status == BulletinStatus.draft:
        return status_of(bulletin, plan)
    return status_label(bulletin, plan)


def _asked(db: Session, month: str) -> bool:
    history = reviews(db, month)
    return bool(history) and history[-1].action == "asked"


def _step(db: Session, bulletin: Bulletin | None, plan: Plan | None) -> tuple[str, NextStep]:
    """The month's status and next step, exactly as its bulletin page says them."""
    status = status_of(bulletin, plan)
    if bulletin is None:
        return status, next_step(None, status, asked=False, out_of_date=[])
    stale = approval_out_of_date(db, bulletin)
    return status, next_step(bulletin, status, asked=_asked(db, bulletin.month), out_of_date=stale)


def _needs(db: Session, bulletin: Bulletin | None, plan: Plan | None, month: str) -> list[Need]:
    planned = plan is not None and month in plan.themes
    needs = [Need("Theme planned", planned, "" if planned else "add it in the plan")]
    if bulletin is None:
        needs.append(Need("Draft built", False, "not yet"))
        return needs
    needs.append(Need("Draft built", True, ""))
    needs.append(
        Need(
            "Checks pass",
            bulletin.checks_passed,
            "" if bulletin.checks_passed else "some checks fail: see its page",
        )
    )
    approved = bulletin.approved_at is not None and bulletin.status in (
        BulletinStatus.approved,
        BulletinStatus.scheduled,
        BulletinStatus.sending,
    )
    if approved:
        needs.append(Need("Approved", True, f"by {bulletin.approved_by}"))
    else:
        asked = _asked(db, month)
        needs.append(
            Need("Approved", False, "waiting for an approver" if asked else "not yet asked")
        )
    stale = out_of_date(bulletin, plan)
    needs.append(Need("Up to date with the plan", stale is None, stale or ""))
    needs.append(
        Need(
            "Not paused",
            not bulletin.schedule_paused,
            "paused: resume it to send" if bulletin.schedule_paused else "",
        )
    )
    return needs


def _next_send(
    db: Session,
    rows: list[MonthOutlook],
    bulletins: dict[str, Bulletin],
    plan: Plan | None,
    now: datetime,
    grace: timedelta,
) -> NextSend | None:
    for row in sorted(rows, key=lambda r: r.slot):
        bulletin = bulletins.get(row.month)
        if bulletin is None:
            if row.slot <= now:
                continue  # passed unbuilt: an alert says so
        elif BulletinStatus(bulletin.status) in _FINISHED:
            continue
        elif bulletin.status in OPEN and row.slot + grace <= now:
            continue  # the scheduler marks it missed
        elif bulletin.status not in OPEN and bulletin.status != BulletinStatus.sending:
            continue  # stopped or failed: an alert says so
        status, step = _step(db, bulletin, plan)
        theme = plan.themes.get(row.month) if plan is not None else None
        return NextSend(
            month=row.month,
            label=month_name(row.month),
            theme=theme.title if theme is not None else (bulletin.theme if bulletin else ""),
            slot=row.slot,
            status=_label(bulletin, plan) if bulletin is not None else status,
            needs=_needs(db, bulletin, plan, row.month),
            step=step,
            scheduler_action=row.next_action,
            scheduler_at=row.next_at,
        )
    return None


def _for_you(
    db: Session,
    staff: Staff,
    rows: list[MonthOutlook],
    bulletins: dict[str, Bulletin],
    plan: Plan | None,
    now: datetime,
) -> list[MonthStep]:
    """Each month that needs a person and whose next step is this person's (approvals first
    for an approver, edits first for an editor)."""
    months: dict[str, datetime | None] = {}
    for row in rows:
        bulletin = bulletins.get(row.month)
        if bulletin is None and row.next_at is not None and row.next_at <= now + timedelta(days=31):
            months[row.month] = row.slot  # its draft is due within the month
        elif bulletin is not None and bulletin.status in OPEN:
            months[row.month] = row.slot
    for bulletin in bulletins.values():
        if bulletin.status in _NEEDS_PERSON and (
            bulletin.send_at is None or bulletin.send_at >= now - alerts.RECENT
        ):
            months[bulletin.month] = bulletin.send_at
    roles = [r for r in ("approver", "editor") if staff.has(r)]
    found: list[MonthStep] = []
    for month, send_at in months.items():
        bulletin = bulletins.get(month)
        status, step = _step(db, bulletin, plan)
        if step.who not in roles:
            continue
        theme = plan.themes.get(month) if plan is not None else None
        found.append(
            MonthStep(
                month=month,
                label=month_name(month),
                theme=theme.title if theme is not None else (bulletin.theme if bulletin else ""),
                status=_label(bulletin, plan) if bulletin is not None else status,
                step=step,
                send_at=send_at,
            )
        )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    found.sort(key=lambda m: (roles.index(m.step.who), m.send_at or far, m.month))
    return found


def _outlook(
    db: Session, settings: Settings, plan: Plan | None, clock: Clock, now: datetime
) -> list[MonthOutlook]:
    # The outlook reads through a session of its own; on SQLite every transaction takes the
    # write lock (BEGIN IMMEDIATE), so end this one first.
    db.commit()
    engine = db.get_bind()
    if plan is not None:
        return outlook_rows(engine, settings, plan, clock, now)
    from newsletter.schedule import Lifecycle

    # The plan cannot be read: the bulletins' own send times still say what is due.
    lifecycle = Lifecycle(engine, settings, clock=clock, deps=default_deps())  # type: ignore[arg-type]
    rows, _problem = outlook(lifecycle, now)
    return rows


def _scheduler(db: Session, settings: Settings, now: datetime) -> SchedulerState:
    try:
        present = leader_present(settings)
    except Exception:  # a probe that fails must not break the page
        log.exception("cannot tell whether a scheduler leads")
        present = False
    return scheduler_state(db, leader_present=present, now=now)


def _last_sent(db: Session) -> Bulletin | None:
    """The latest bulletin whose send began (sending, sent, stopped or failed)."""
    return db.exec(
        select(Bulletin)
        .where(col(Bulletin.status).in_([s.value for s in alerts.SENT_ONCE]))
        .order_by(col(Bulletin.month).desc())
        .limit(1)
    ).first()


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> HTMLResponse:
    """What needs doing (yours first), the next send, alerts, the last bulletin's figures."""
    now = clock.now()
    state = load_state(db, settings)
    plan = state.plan
    rows = _outlook(db, settings, plan, clock, now)
    bulletins = {b.month: b for b in db.exec(select(Bulletin)).all()}
    grace = timedelta(hours=settings.send_grace_hours)
    standing = alerts.collect(
        db, settings, now=now, outlook=rows, scheduler=_scheduler(db, settings, now)
    )
    mine = [a for a in standing if a.is_for(staff.roles)]
    others = [a for a in standing if not a.is_for(staff.roles)]
    last = _last_sent(db)
    headline: BulletinHeadline | None = bulletin_headline(db, last) if last is not None else None
    return render(
        request,
        "staff/dashboard.html",
        for_you=_for_you(db, staff, rows, bulletins, plan, now),
        next_send=_next_send(db, rows, bulletins, plan, now, grace),
        alerts=mine + others,
        alerts_mine=len(mine),
        last=last,
        last_label=month_name(last.month) if last is not None else "",
        headline=headline,
        plan_problem=state.problem,
        is_editor=staff.has("editor"),
        is_approver=staff.has("approver"),
    )
