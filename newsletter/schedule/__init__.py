"""Scheduling: the monthly mailout runs itself, with approval and no surprises.

When a month goes out is plan knowledge (:mod:`newsletter.plan.slots`); this package acts on it.

* :mod:`.timeline`: a month's dated steps (draft, reminders, send, end of the grace window);
* :mod:`.tick`: the lifecycle tick that does what is due, once (``schedule_action`` records it);
* :mod:`.notify`: emails to NEWSLETTER_APPROVERS; :mod:`.retention`: old raw events rolled up;
* :mod:`.leader`: one scheduler acts at a time; :mod:`.runner`: APScheduler and the service
  behind ``python scheduler.py`` and ``newsletter run``; :mod:`.outlook`: ``schedule list``;
* :mod:`.control`: pause and resume, people's "send now" requests, the scheduler's heartbeat;
* :mod:`.deps`: the seams to the plan, assembly, dispatch and reports; :mod:`.wiring`: the real
  ones behind them.
"""

from newsletter.schedule.control import (
    OPEN,
    RESUMABLE,
    ScheduleRefused,
    SchedulerState,
    last_request,
    open_request,
    request_refusal,
    request_send,
    scheduler_state,
    set_paused,
    withdraw_request,
)
from newsletter.schedule.deps import Deps, PlanUnavailable
from newsletter.schedule.leader import Leadership, leader_present, leadership_for
from newsletter.schedule.notify import Notifier
from newsletter.schedule.outlook import MonthOutlook, outlook
from newsletter.schedule.runner import SchedulerService, stored_jobs
from newsletter.schedule.tick import Lifecycle, TickReport
from newsletter.schedule.timeline import local_text
from newsletter.schedule.wiring import default_deps

__all__ = [
    "OPEN",
    "RESUMABLE",
    "Deps",
    "Leadership",
    "Lifecycle",
    "MonthOutlook",
    "Notifier",
    "PlanUnavailable",
    "ScheduleRefused",
    "SchedulerService",
    "SchedulerState",
    "TickReport",
    "default_deps",
    "last_request",
    "leader_present",
    "leadership_for",
    "local_text",
    "open_request",
    "outlook",
    "request_refusal",
    "request_send",
    "scheduler_state",
    "set_paused",
    "stored_jobs",
    "withdraw_request",
]
