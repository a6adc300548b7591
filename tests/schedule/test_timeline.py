"""A month's timeline: when each lifecycle step falls due, shown in UK time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from newsletter.schedule.timeline import Action, Timeline, local_text, timeline_for
from tests.schedule_support import make_plan

SLOT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def test_the_steps_fall_ten_days_three_days_and_one_day_before_the_slot_then_the_grace() -> None:
    tl = timeline_for(
        make_plan(["2026-11"]), make_plan(["2026-11"]).theme("2026-11"), grace=timedelta(hours=6)
    )
    assert [(s.action, SLOT - s.at) for s in tl.steps()] == [
        (Action.build, timedelta(days=10)),
        (Action.remind_3d, timedelta(days=3)),
        (Action.remind_1d, timedelta(days=1)),
        (Action.send, timedelta(0)),
        (Action.missed, timedelta(hours=-6)),
    ]


def test_a_short_lead_puts_the_reminders_before_the_draft_and_the_next_step_is_the_earliest() -> (
    None
):
    tl = Timeline.around("2026-11", SLOT, lead_days=2, grace=timedelta(hours=6))
    assert [s.action for s in tl.steps()][:2] == [Action.remind_3d, Action.build]
    nxt = tl.next_step(SLOT - timedelta(days=5))
    assert nxt is not None
    assert nxt.action is Action.remind_3d
    assert tl.next_step(SLOT + timedelta(hours=6)) is None


def test_times_are_shown_in_the_local_zone_with_its_abbreviation() -> None:
    london = ZoneInfo("Europe/London")
    assert local_text(SLOT, london) == "Tue 3 Nov 2026 09:00 GMT"
    assert local_text(datetime(2026, 10, 6, 8, 0, tzinfo=UTC), london) == "Tue 6 Oct 2026 09:00 BST"
