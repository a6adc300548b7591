"""A month's lifecycle as dated steps: draft, approval requests, reminders, send, missed.

Pure date arithmetic, shared by the tick (which acts on the steps that are due) and by
``schedule list`` (which shows the next one). Every time here is UTC; show them with
:func:`local_text` in NEWSLETTER_TIMEZONE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from newsletter.plan.model import Plan, Theme
from newsletter.plan.slots import send_time


class Action(StrEnum):
    """The lifecycle steps; each is done at most once per bulletin (``schedule_action``)."""

    build = "build"  # the draft was built (or found built by hand)
    notify = "notify"  # approvers asked to approve
    remind_3d = "remind-3d"
    remind_1d = "remind-1d"
    scheduled = "scheduled"  # an approved, current bulletin handed to the scheduler
    send = "send"  # the send was started (claimed before calling dispatch)
    send_failed = "send-failed"  # alert: the send raised
    stale = "stale-alert"  # alert: approved, but the plan changed since it was built
    paused = "paused-alert"  # alert: paused at its slot
    missed = "missed"  # marked missed (the status change and this row commit together)
    missed_alert = "missed-alert"
    orphan_expired = "orphan-expired-alert"  # alert: a dead sender's send, past its window


# Reminders while unapproved, by how long before the slot they go.
REMINDERS: tuple[tuple[Action, timedelta], ...] = (
    (Action.remind_3d, timedelta(days=3)),
    (Action.remind_1d, timedelta(days=1)),
)


@dataclass(frozen=True)
class Step:
    month: str
    action: Action
    at: datetime  # UTC


@dataclass(frozen=True)
class Timeline:
    """When each step of one month falls due (UTC)."""

    month: str
    slot: datetime
    draft_at: datetime
    grace_until: datetime

    @classmethod
    def around(cls, month: str, slot: datetime, *, lead_days: int, grace: timedelta) -> Timeline:
        slot = slot.astimezone(UTC)
        return cls(
            month=month,
            slot=slot,
            draft_at=slot - timedelta(days=lead_days),
            grace_until=slot + grace,
        )

    def reminders(self) -> list[Step]:
        return [Step(self.month, action, self.slot - before) for action, before in REMINDERS]

    def steps(self) -> list[Step]:
        """Every dated step in time order (a step's action names what falls due then)."""
        steps = [
            Step(self.month, Action.build, self.draft_at),
            *self.reminders(),
            Step(self.month, Action.send, self.slot),
            Step(self.month, Action.missed, self.grace_until),
        ]
        return sorted(steps, key=lambda step: step.at)  # a short lead puts reminders first

    def next_step(self, now: datetime) -> Step | None:
        """The first step strictly after ``now``, or None once the grace window has closed."""
        return next((step for step in self.steps() if step.at > now), None)


def timeline_for(plan: Plan, theme: Theme, *, grace: timedelta) -> Timeline:
    return Timeline.around(
        theme.month, send_time(plan, theme), lead_days=plan.draft_lead_days, grace=grace
    )


def local_text(moment: datetime, zone: ZoneInfo) -> str:
    """``Tue 6 Oct 2026 09:00 BST``: how people read a time."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"
