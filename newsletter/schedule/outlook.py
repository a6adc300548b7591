"""What the scheduler will do about each month, in words: for ``schedule list`` and the admin UI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan.model import Plan
from newsletter.schedule.control import OPEN
from newsletter.schedule.tick import Lifecycle
from newsletter.schedule.timeline import Timeline
from newsletter.sendability import is_out_of_date, status_label

# Months never built whose slot is further back than this are left out; every bulletin that was
# built (sent ones above all) stays in the list.
HISTORY = timedelta(days=92)


@dataclass(frozen=True)
class MonthOutlook:
    month: str
    slot: datetime  # UTC
    status: str  # a BulletinStatus, or "not built"
    paused: bool
    next_action: str  # in words
    next_at: datetime | None  # UTC, when the next action falls due (None: nothing planned)


def outlook(lifecycle: Lifecycle, now: datetime) -> tuple[list[MonthOutlook], str | None]:
    """Each current month's send time, status and next action; and the plan's problem, if any."""
    plan, problem = lifecycle.load_plan()
    bulletins = lifecycle.bulletins()
    rows = []
    for month, tl in sorted(lifecycle.timelines(plan, bulletins.values()).items()):
        bulletin = bulletins.get(month)
        if bulletin is None and tl.slot < now - HISTORY:
            continue  # long past and never built: nothing to show
        action, at = _next_action(tl, bulletin, plan, now)
        rows.append(
            MonthOutlook(
                month=month,
                slot=tl.slot,
                status=_status(bulletin, plan, past=tl.slot <= now),
                paused=bool(bulletin and bulletin.schedule_paused),
                next_action=action,
                next_at=at,
            )
        )
    return rows, problem


def _status(bulletin: Bulletin | None, plan: Plan | None, *, past: bool) -> str:
    if bulletin is not None:
        return status_label(bulletin, plan)
    return "never built: not sent" if past else "not built"


def _next_action(
    tl: Timeline, bulletin: Bulletin | None, plan: Plan | None, now: datetime
) -> tuple[str, datetime | None]:
    if bulletin is None:
        if now < tl.draft_at:
            return "build the draft and ask for approval", tl.draft_at
        if now < tl.slot:
            return "build the draft and ask for approval (due now)", now
        return "none: no draft was built", None
    status = BulletinStatus(bulletin.status)
    if status not in OPEN:
        return "none", None
    if now >= tl.grace_until:
        return "mark missed (grace window over)", now
    if status == BulletinStatus.draft:
        if now >= tl.slot:
            return "mark missed: not approved", now
        reminders = [s for s in tl.reminders() if s.at > now]
        if reminders:
            return f"remind the approvers ({reminders[0].action})", reminders[0].at
        return "mark missed at the slot unless approved", tl.slot
    if bulletin.schedule_paused:
        return "none while paused: resume to send", None
    if is_out_of_date(bulletin, plan):
        return "none: out of date, rebuild and approve", None
    return "send", max(tl.slot, now)
