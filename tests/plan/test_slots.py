"""Send slots: the first Tuesday at 09:00 UK time, bank holidays, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from newsletter.plan.model import Plan, SendSlot, Theme
from newsletter.plan.slots import (
    SlotError,
    next_slot_after,
    send_time,
    slot_in_month,
    validate_slot,
)

SLOT = SendSlot(day="1st tue", at=time(9, 0), timezone="Europe/London")


def _plan() -> Plan:
    return Plan(slot=SLOT, draft_lead_days=10, catalogue={}, themes={})


def _theme(month: str, **kw: Any) -> Theme:
    return Theme(
        month=month,
        title="T",
        subject="S",
        preheader="P",
        audiences=(),
        intro="",
        sections=(),
        **kw,
    )


def test_the_next_slot_after_mid_september_is_the_first_tuesday_of_october() -> None:
    nxt = next_slot_after(SLOT, datetime(2026, 9, 15, 0, 0))
    assert nxt.isoformat() == "2026-10-06T09:00:00+01:00"


def test_the_next_slot_after_late_october_is_in_november_in_gmt() -> None:
    nxt = next_slot_after(SLOT, datetime(2026, 10, 20, 0, 0))
    assert nxt.isoformat() == "2026-11-03T09:00:00+00:00"


def test_a_slot_on_a_bank_holiday_moves_to_the_next_working_day() -> None:
    # "1st mon" of May 2027 is the Early May bank holiday (3 May): the bulletin goes on Tuesday.
    slot = SendSlot(day="1st mon", at=time(9, 0), timezone="Europe/London")
    assert slot_in_month(slot, "2027-05").date() == date(2027, 5, 4)


def test_a_theme_with_its_own_date_is_sent_then() -> None:
    theme = _theme("2026-12", send_date=date(2026, 12, 8), send_time=time(10, 30))
    assert send_time(_plan(), theme) == datetime(2026, 12, 8, 10, 30, tzinfo=UTC)


def test_the_default_slot_is_stored_in_utc_across_the_clock_change() -> None:
    assert send_time(_plan(), _theme("2026-07")) == datetime(2026, 7, 7, 8, 0, tzinfo=UTC)
    assert send_time(_plan(), _theme("2027-01")) == datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("day", ["5th tue", "31", "first tuesday"])
def test_slots_that_miss_some_months_are_refused(day: str) -> None:
    with pytest.raises(SlotError):
        validate_slot(SendSlot(day=day))
