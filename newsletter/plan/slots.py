"""When a month's bulletin goes out: the plan's default slot, a theme's override, bank holidays.

The default slot is an APScheduler ``day`` expression ("1st tue", "last fri", "15") and a time in
the plan's time zone. A slot that falls on a bank holiday in England and Wales (or a weekend, for
day-of-month slots) moves to the next working day, at the same local time. A theme that names its
own date is taken as written: a person chose it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from apscheduler.triggers.cron import CronTrigger

from newsletter.plan.issuekey import calendar_month
from newsletter.plan.model import Plan, SendSlot, Theme


class SlotError(ValueError):
    """The slot expression is not one APScheduler understands, or names no day in a month."""


@lru_cache(maxsize=8)
def _bank_holidays(first_year: int, last_year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year - 1, day.year + 1)


def next_working_day(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def bank_holiday_name(day: date) -> str | None:
    name = _bank_holidays(day.year - 1, day.year + 1).get(day)
    return str(name) if name else None


def _trigger(slot: SendSlot) -> CronTrigger:
    try:
        return CronTrigger(
            day=slot.day,
            hour=slot.at.hour,
            minute=slot.at.minute,
            second=0,
            timezone=ZoneInfo(slot.timezone),
        )
    except ValueError as exc:
        raise SlotError(f"send slot day {slot.day!r}: {exc}") from exc


def validate_slot(slot: SendSlot) -> None:
    """Raise :class:`SlotError` unless ``slot`` fires in every month."""
    _trigger(slot)
    if any(tok in slot.day for tok in ("5th",)) or slot.day.strip() in {"29", "30", "31"}:
        raise SlotError(f"send slot day {slot.day!r} does not exist in every month")


def _local(moment: datetime, zone: ZoneInfo, on: date, at: time) -> datetime:
    return datetime.combine(on, at, tzinfo=zone)


def slot_in_month(slot: SendSlot, month: str) -> datetime:
    """The default slot of ``month`` ('YYYY-MM'), moved off bank holidays; aware, local zone."""
    zone = ZoneInfo(slot.timezone)
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=zone) - timedelta(microseconds=1)
    fire = _trigger(slot).get_next_fire_time(None, start)
    if fire is None or (fire.year, fire.month) != (year, mon):
        raise SlotError(f"send slot day {slot.day!r} names no day in {month}")
    moved = next_working_day(fire.date())
    return _local(fire, zone, moved, slot.at)


def send_time(plan: Plan, theme: Theme) -> datetime:
    """When ``theme`` goes out, in UTC: its own date/time if set, else the plan's slot in its
    calendar month (an extra edition always names its own date: the checks see to it)."""
    zone = ZoneInfo(plan.slot.timezone)
    if theme.send_date is not None:
        local = datetime.combine(theme.send_date, theme.send_time or plan.slot.at, tzinfo=zone)
    else:
        local = slot_in_month(plan.slot, calendar_month(theme.month))
        if theme.send_time is not None:
            local = local.replace(hour=theme.send_time.hour, minute=theme.send_time.minute)
    return local.astimezone(UTC)


def next_slot_after(slot: SendSlot, after: datetime) -> datetime:
    """The first default slot strictly after ``after`` (bank holidays applied); local zone."""
    zone = ZoneInfo(slot.timezone)
    if after.tzinfo is None:
        after = after.replace(tzinfo=zone)
    local_after = after.astimezone(zone)
    year, mon = local_after.year, local_after.month
    for _ in range(24):
        candidate = slot_in_month(slot, f"{year:04d}-{mon:02d}")
        if candidate > local_after:
            return candidate
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    raise SlotError("no slot in the next two years")  # unreachable for a validated slot
