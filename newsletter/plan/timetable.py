"""When each month of the plan goes out, and why: the default slot, a theme's own date or
time, or a move off a bank holiday. Read by ``newsletter plan show``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from newsletter.plan.issuekey import calendar_month
from newsletter.plan.model import Plan, SendSlot, Theme
from newsletter.plan.slots import bank_holiday_name, send_time


@dataclass(frozen=True)
class SendInfo:
    """One bulletin's send time (UTC) and what decided it."""

    month: str  # the issue key: "2026-07", or "2026-07-correction" for an extra edition
    at: datetime  # UTC, as plan.slots.send_time gives it
    date_overridden: bool  # the theme names its own date
    time_overridden: bool  # the theme names its own time
    moved_from: date | None  # the default slot's day, when a holiday or weekend moved it
    moved_because: str | None  # "Summer Bank Holiday", "a weekend"

    @property
    def overridden(self) -> bool:
        return self.date_overridden or self.time_overridden


def _named_day(slot: SendSlot, month: str) -> date | None:
    """The day the slot expression names in ``month``, before any bank-holiday move."""
    zone = ZoneInfo(slot.timezone)
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=zone) - timedelta(microseconds=1)
    trigger = CronTrigger(day=slot.day, hour=slot.at.hour, minute=slot.at.minute, timezone=zone)
    fire = trigger.get_next_fire_time(None, start)
    return fire.date() if fire is not None else None


def send_info(plan: Plan, theme: Theme) -> SendInfo:
    at = send_time(plan, theme)
    moved_from: date | None = None
    because: str | None = None
    if theme.send_date is None:
        named = _named_day(plan.slot, calendar_month(theme.month))
        local_day = at.astimezone(ZoneInfo(plan.slot.timezone)).date()
        if named is not None and named != local_day:
            moved_from = named
            because = bank_holiday_name(named) or "a weekend"
    return SendInfo(
        month=theme.month,
        at=at,
        date_overridden=theme.send_date is not None,
        time_overridden=theme.send_time is not None,
        moved_from=moved_from,
        moved_because=because,
    )


def timetable(plan: Plan) -> list[SendInfo]:
    """Every month of the plan with its send time, in month order."""
    return [send_info(plan, theme) for theme in plan.themes.values()]
