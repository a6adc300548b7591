"""The lifecycle tick: find what is due for each month's bulletin and do it, once.

The scheduler calls :meth:`Lifecycle.tick` every minute or so. A tick reads the plan and the
bulletins, works out where each month stands on its :class:`~.timeline.Timeline`, and acts:

* from ``draft_lead_days`` before the slot: build the draft (unless one exists) and ask the
  approvers to approve it; remind them 3 days and 1 day before while it is unapproved; hand an
  approved, current bulletin to the scheduler (status ``scheduled``);
* at the slot: send it if it is approved, current (built from the plan as it is now) and not
  paused. Unapproved: do not send, mark it ``missed`` and alert. Paused or stale: alert, and
  send if a person fixes it within the grace window;
* a slot passed by more than NEWSLETTER_SEND_GRACE_HOURS (scheduler down, paused, stale):
  never sent by the scheduler; marked ``missed`` and alerted. Only a person sends it then;
* a send whose process died (the bulletin is ``sending`` but nobody holds its send lock, which
  went with the dead process's database session): resumed, within the grace window counted
  from the later of its slot and its start, with the unknown-batch rule (deliveries that were
  in flight become ``unknown`` and are not resent; ``--retry-unknown`` is a person's call),
  and the approvers are told. A send a person stopped is ``failed`` (or paused), not
  ``sending``, and stays stopped.

Every step is claimed in ``schedule_action`` before (or in the same transaction as) its effect,
so running a tick twice, late, after a restart or in a second process does no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from newsletter.accounts import approvers
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.dispatch.lock import sender_alive
from newsletter.dispatch.summary import SendInProgress
from newsletter.lifecycle import TransitionError, transition
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    SendRequest,
    SendRequestKind,
    SendRequestState,
)
from newsletter.plan.model import Plan
from newsletter.schedule.actions import claim, done_actions, release
from newsletter.schedule.control import (
    OPEN,
    close_request,
    pending_requests,
    request_refusal,
    start_request,
    started_requests,
)
from newsletter.schedule.deps import Deps, PlanUnavailable
from newsletter.schedule.notify import Notifier
from newsletter.schedule.timeline import Action, Step, Timeline, local_text, timeline_for
from newsletter.sendability import out_of_date, start_refusal

log = logging.getLogger(__name__)

DEFAULT_LEAD_DAYS = 10
MAX_TAKEOVERS = 3  # a send that kills its process every time is left to a person after this


SendRunner = Callable[[str, Callable[[], None]], None]  # (month, the send) -> None


def _run_inline(_month: str, send: Callable[[], None]) -> None:
    send()


@dataclass
class TickReport:
    at: datetime
    done: list[str] = field(default_factory=list)  # "2026-07: built the draft", ...
    next_step: Step | None = None
    plan_problem: str | None = None


class Lifecycle:
    """Moves every month's bulletin along its timeline; see the module docstring."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock,
        deps: Deps,
        run_send: SendRunner | None = None,
    ) -> None:
        self.engine = engine
        # How a claimed send runs: inline by default (tests); the scheduler service gives each
        # send a thread of its own so that a long send does not hold up the ticks.
        self.run_send: SendRunner = run_send or _run_inline
        self.settings = settings
        self.clock = clock
        self.deps = deps
        self.notifier = Notifier(
            settings, transport_factory=deps.transport_factory, recipients=self._approvers
        )
        self._last_problem: str | None = None  # log a plan problem when it changes, not per tick
        self._said: set[str] = set()  # problems without a bulletin row to record them on
        self._own_sends: set[str] = set()  # months this process is sending (or about to)

    def _approvers(self) -> list[str]:
        with Session(self.engine) as session:
            return approvers(session, self.settings.approvers)

    @property
    def grace(self) -> timedelta:
        return timedelta(hours=self.settings.send_grace_hours)

    # --- reading ---------------------------------------------------------------------------

    def load_plan(self) -> tuple[Plan | None, str | None]:
        """The plan, or None and why not."""
        try:
            return self.deps.load_plan(self.settings), None
        except PlanUnavailable as exc:
            return None, str(exc)

    def timelines(self, plan: Plan | None, bulletins: Iterable[Bulletin]) -> dict[str, Timeline]:
        """Each month's timeline: from the plan, else from a bulletin's stored ``send_at``."""
        result: dict[str, Timeline] = {}
        if plan is not None:
            for month, theme in plan.themes.items():
                result[month] = timeline_for(plan, theme, grace=self.grace)
        lead = plan.draft_lead_days if plan is not None else DEFAULT_LEAD_DAYS
        for bulletin in bulletins:
            if bulletin.month not in result and bulletin.send_at is not None:
                result[bulletin.month] = Timeline.around(
                    bulletin.month, bulletin.send_at, lead_days=lead, grace=self.grace
                )
        return result

    def bulletins(self) -> dict[str, Bulletin]:
        with Session(self.engine, expire_on_commit=False) as session:
            return {b.month: b for b in session.exec(select(Bulletin)).all()}

    def next_step(self, now: datetime | None = None) -> Step | None:
        """The next dated step of a month the scheduler still acts on."""
        now = now or self.clock.now()
        plan, _problem = self.load_plan()
        bulletins = self.bulletins()
        return self._next_step(now, self.timelines(plan, bulletins.values()), bulletins)

    @staticmethod
    def _next_step(
        now: datetime, timelines: dict[str, Timeline], bulletins: dict[str, Bulletin]
    ) -> Step | None:
        steps = []
        for month, tl in timelines.items():
            bulletin = bulletins.get(month)
            if bulletin is not None and bulletin.status not in OPEN:
                continue
            step = tl.next_step(now)
            if step is not None and not (bulletin is None and step.action is Action.missed):
                steps.append(step)
        return min(steps, key=lambda s: s.at, default=None)

    # --- the tick --------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Do whatever is due now; safe to call at any time, any number of times."""
        now = self.clock.now()
        report = TickReport(at=now)
        plan, report.plan_problem = self.load_plan()
        if report.plan_problem != self._last_problem:
            if report.plan_problem:
                log.error(
                    "the plan cannot be read; nothing will be built or sent until it is fixed: %s",
                    report.plan_problem,
                )
            else:
                log.info("the plan reads cleanly again")
            self._last_problem = report.plan_problem
        started = self._carry_out_requests(plan, now, report)
        bulletins = self.bulletins()
        timelines = self.timelines(plan, bulletins.values())
        for month in sorted(timelines):
            if month in started:
                continue  # a person's "send now" started it this tick
            try:
                self._advance(timelines[month], bulletins.get(month), plan, now, report)
            except Exception:  # one month's failure must not stop the others
                log.exception("scheduler step for %s failed; the next tick tries again", month)
        report.next_step = self._next_step(now, timelines, self.bulletins())
        return report

    def _advance(
        self,
        tl: Timeline,
        bulletin: Bulletin | None,
        plan: Plan | None,
        now: datetime,
        report: TickReport,
    ) -> None:
        if now < tl.draft_at:
            return
        planned = plan is not None and tl.month in plan.themes
        if bulletin is None:
            if not planned or plan is None:
                return
            if now >= tl.slot:
                if now < tl.grace_until and f"unbuilt {tl.month}" not in self._said:
                    self._said.add(f"unbuilt {tl.month}")
                    log.error("%s: NOT SENT: its slot has passed and no draft was built", tl.month)
                return
            bulletin = self._build(plan, tl, now, report)
            if bulletin is None:
                return
        if bulletin.status == BulletinStatus.sending:
            self._take_over_if_orphaned(bulletin, tl, now, report)
            return
        if bulletin.status not in OPEN:
            return
        if planned and bulletin.send_at != tl.slot:
            self._set_send_at(bulletin, tl.slot)
        stale = self._stale_reason(bulletin, plan)
        if now >= tl.grace_until:
            self._mark_missed(bulletin, now, self._missed_reason(bulletin, stale), report)
        elif now >= tl.slot:
            self._at_slot(bulletin, tl, plan=plan, stale=stale, now=now, report=report)
        elif bulletin.status == BulletinStatus.draft:
            self._ask_for_approval(bulletin, tl, now, report)
        elif stale:
            self._alert_once(bulletin, Action.stale, now, *self._stale_message(bulletin, tl, stale))
        elif bulletin.status == BulletinStatus.approved:
            self._schedule(bulletin, tl, report)

    # --- steps -----------------------------------------------------------------------------

    def _build(
        self, plan: Plan, tl: Timeline, now: datetime, report: TickReport
    ) -> Bulletin | None:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                bulletin = self.deps.build(
                    session, self.settings, plan, tl.month, clock=self.clock
                ).bulletin
                session.flush()
                assert bulletin.id is not None
                bulletin.send_at = tl.slot
                claim(session, bulletin.id, Action.build, at=now, detail="built by the scheduler")
                session.commit()
            except Exception as exc:
                session.rollback()
                key = f"build {tl.month} {exc}"
                if key not in self._said:  # once per process and problem, not every minute
                    self._said.add(key)
                    log.exception("building the %s draft failed; each tick tries again", tl.month)
                return None
        report.done.append(f"{tl.month}: built the draft")
        log.info("%s: draft built (checks passed: %s)", tl.month, bulletin.checks_passed)
        return bulletin

    def _set_send_at(self, bulletin: Bulletin, slot: datetime) -> None:
        with Session(self.engine) as session:
            session.execute(
                update(Bulletin).where(col(Bulletin.id) == bulletin.id).values(send_at=slot)
            )
            session.commit()
        bulletin.send_at = slot

    def _stale_reason(self, bulletin: Bulletin, plan: Plan | None) -> str | None:
        return out_of_date(bulletin, plan)

    def _missed_reason(self, bulletin: Bulletin, stale: str | None) -> str:
        hours = f"{self.settings.send_grace_hours:g}"
        if bulletin.status == BulletinStatus.draft:
            return "it was not approved by its send time"
        if bulletin.schedule_paused:
            return f"it was paused at its send time and not resumed within {hours} hours"
        if stale:
            return f"{stale}, and it was not rebuilt and approved within {hours} hours"
        return f"the scheduler was not running at its send time, nor within {hours} hours"

    def _ask_for_approval(
        self, bulletin: Bulletin, tl: Timeline, now: datetime, report: TickReport
    ) -> None:
        assert bulletin.id is not None
        with Session(self.engine) as session:
            actions = done_actions(session, bulletin.id)
        if Action.notify not in actions:
            if self._alert_once(
                bulletin, Action.notify, now, *self._approval_message(bulletin, tl)
            ):
                report.done.append(f"{tl.month}: asked the approvers")
            return  # reminders start from the next tick, never with the first request
        asked_at = actions[Action.notify].done_at
        due = [s for s in tl.reminders() if now >= s.at and s.action not in actions]
        for i, step in enumerate(due):
            if i < len(due) - 1 or asked_at >= step.at:
                # Superseded by a later reminder, or the request itself came after this point.
                with Session(self.engine) as session:
                    claim(session, bulletin.id, step.action, at=now, detail="not needed")
                    session.commit()
                continue
            subject, text = self._approval_message(bulletin, tl, reminder=True)
            if self._alert_once(bulletin, step.action, now, subject, text):
                report.done.append(f"{tl.month}: reminded the approvers ({step.action})")

    def _schedule(self, bulletin: Bulletin, tl: Timeline, report: TickReport) -> None:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Bulletin, bulletin.id)
            if row is None or row.status != BulletinStatus.approved:
                return
            try:
                transition(session, row, BulletinStatus.scheduled, now=self.clock.now())
                session.commit()
            except TransitionError:
                session.rollback()
                return
        report.done.append(f"{tl.month}: scheduled")
        log.info("%s: approved; scheduled for %s", tl.month, self._local(tl.slot))

    def _at_slot(
        self,
        bulletin: Bulletin,
        tl: Timeline,
        *,
        plan: Plan | None,
        stale: str | None,
        now: datetime,
        report: TickReport,
    ) -> None:
        if bulletin.status == BulletinStatus.draft:
            self._mark_missed(bulletin, now, self._missed_reason(bulletin, stale), report)
            return
        until = self._local(tl.grace_until)
        if bulletin.schedule_paused:
            self._alert_once(
                bulletin,
                Action.paused,
                now,
                f"Paused: the {tl.month} bulletin was not sent at its slot",
                f"The {tl.month} bulletin is paused, so it did not go out at "
                f"{self._local(tl.slot)}.\nResume it before {until} to send it now:\n\n"
                f"    {self._page(tl.month)}\n\n"
                "Otherwise it will be marked missed and not sent.",
            )
            return
        if stale:
            self._alert_once(bulletin, Action.stale, now, *self._stale_message(bulletin, tl, stale))
            return
        refusal = start_refusal(bulletin, plan)
        if refusal is not None:  # the same rule as `bulletin send`; the cases above explain it
            log.error("%s: NOT SENT: %s", tl.month, refusal)
            return
        self._send(bulletin, tl, now, report)

    def _send(self, bulletin: Bulletin, tl: Timeline, now: datetime, report: TickReport) -> None:
        assert bulletin.id is not None
        late = now - tl.slot
        with Session(self.engine) as session:
            claimed = claim(
                session, bulletin.id, Action.send, at=now, detail=f"late by {late}" if late else ""
            )
            session.commit()
        if not claimed:
            return
        log.info("%s: sending (slot %s, now %s)", tl.month, self._local(tl.slot), self._local(now))
        report.done.append(f"{tl.month}: send started")
        self._start_send(bulletin, tl.month, now)

    # --- people's requests ("send now", "resume") -----------------------------------------

    def _carry_out_requests(self, plan: Plan | None, now: datetime, report: TickReport) -> set[str]:
        """Start the sends people asked for on the bulletin page; the months started."""
        with Session(self.engine, expire_on_commit=False) as session:
            self._close_finished_requests(session, now)
            requests = pending_requests(session)
            session.commit()
        started: set[str] = set()
        for request in requests:
            try:
                if self._carry_out(request, plan, now, report):
                    started.add(request.month)
            except Exception:  # one request's failure must not stop the rest of the tick
                log.exception("carrying out the send request for %s failed", request.month)
        return started

    def _carry_out(
        self, request: SendRequest, plan: Plan | None, now: datetime, report: TickReport
    ) -> bool:
        assert request.id is not None
        kind = SendRequestKind(request.kind)
        with Session(self.engine, expire_on_commit=False) as session:
            bulletin = session.get(Bulletin, request.bulletin_id)
            running = bulletin is not None and (
                request.month in self._own_sends
                or sender_alive(self.engine, bulletin_id=request.bulletin_id)
            )
            refusal = request_refusal(bulletin, kind, plan, sender_running=running)
            if refusal is None and now - request.requested_at > self.grace:
                refusal = (
                    f"no scheduler carried it out within {self.settings.send_grace_hours:g} "
                    "hours of the request; ask again if it should still go"
                )
            if refusal is not None:
                close_request(
                    session, request.id, state=SendRequestState.refused, outcome=refusal, now=now
                )
                session.commit()
                log.warning(
                    "%s: NOT SENT as %s asked: %s", request.month, request.requested_by, refusal
                )
                report.done.append(f"{request.month}: send request refused ({refusal})")
                return False
            assert bulletin is not None
            if not start_request(session, request.id, now=now):
                session.rollback()
                return False
            if bulletin.status == BulletinStatus.stopped:
                # A person asked for this stopped send to go on: nothing else ever resumes it.
                transition(session, bulletin, BulletinStatus.sending, now=now)
            session.commit()
        log.info(
            "%s: sending now, as %s asked at %s",
            request.month,
            request.requested_by,
            self._local(request.requested_at),
        )
        report.done.append(f"{request.month}: send started, as {request.requested_by} asked")
        self._start_send(bulletin, request.month, now, request_id=request.id)
        return True

    def _close_started(self, request_id: int) -> None:
        """The send a request started has ended (or another process has it): say how."""
        with Session(self.engine) as session:
            request = session.get(SendRequest, request_id)
            bulletin = session.get(Bulletin, request.bulletin_id) if request else None
            if request is None or bulletin is None:
                return
            outcome = str(bulletin.status)
            if bulletin.status == BulletinStatus.sending:
                outcome = "another process is sending it"
            close_request(
                session,
                request_id,
                state=SendRequestState.done,
                outcome=outcome,
                now=self.clock.now(),
            )
            session.commit()

    def _close_finished_requests(self, session: Session, now: datetime) -> None:
        """Started requests whose send ended in a process that is gone (a crash, a restart)."""
        for request in started_requests(session):
            assert request.id is not None
            if request.month in self._own_sends:
                continue
            bulletin = session.get(Bulletin, request.bulletin_id)
            if bulletin is not None and bulletin.status == BulletinStatus.sending:
                continue  # still going (or resumed by a take-over): open until it ends
            outcome = str(bulletin.status) if bulletin is not None else "gone"
            close_request(
                session, request.id, state=SendRequestState.done, outcome=outcome, now=now
            )

    def _take_over_if_orphaned(
        self, bulletin: Bulletin, tl: Timeline, now: datetime, report: TickReport
    ) -> None:
        """Resume a send whose process died (see the module docstring)."""
        assert bulletin.id is not None
        if tl.month in self._own_sends or bulletin.schedule_paused:
            return  # our own send is starting or running; a paused one waits for a person
        if sender_alive(self.engine, bulletin_id=bulletin.id):
            return
        with Session(self.engine) as session:
            actions = done_actions(session, bulletin.id)
        if Action.send_failed in actions:
            return  # the approvers were told the scheduler leaves this send to them
        taken = sum(1 for a in actions if a.startswith("takeover-"))
        started = bulletin.send_started_at or tl.slot
        window_end = max(tl.grace_until, started + self.grace)
        if now >= window_end or taken >= MAX_TAKEOVERS:
            self._alert_once(
                bulletin,
                Action.orphan_expired,
                now,
                f"STOPPED: the {tl.month} bulletin's send was interrupted and not resumed",
                f"The send of the {tl.month} bulletin stopped when its process died, and "
                f"either more than {self.settings.send_grace_hours:g} hours have passed or it "
                f"was resumed {MAX_TAKEOVERS} times already, so the scheduler will not resume "
                "it. Nobody already sent to gets it twice. See who got it, and finish or stop "
                f"it, from its page:\n\n    {self._page(tl.month)}\n",
            )
            return
        with Session(self.engine) as session:
            claimed = claim(
                session, bulletin.id, f"takeover-{taken + 1}", at=now, detail="sender died"
            )
            session.commit()
        if not claimed:
            return
        log.warning(
            "%s: its send was interrupted (the sending process died); resuming it",
            tl.month,
            extra={"bulletin_id": bulletin.id, "month": tl.month},
        )
        report.done.append(f"{tl.month}: resumed an interrupted send")
        try:
            self.notifier.notify(
                f"Resumed: the {tl.month} bulletin's send was interrupted",
                f"The send of the {tl.month} bulletin ({bulletin.subject}) stopped when the "
                "process sending it died. The scheduler has resumed it: everyone not yet sent "
                "to will get it once.\nMessages that were on their way to the provider at that "
                "moment are marked 'unknown' and are NOT sent again (they may have arrived). "
                "Once the send has finished, its page shows how many, and whether to resend "
                f"them is your decision:\n\n    {self._page(tl.month)}\n",
            )
        except Exception:  # the send matters more than the email about it
            log.exception("%s: could not tell the approvers about the resumed send", tl.month)
        self._start_send(bulletin, tl.month, now)

    def _start_send(
        self, bulletin: Bulletin, month: str, now: datetime, *, request_id: int | None = None
    ) -> None:
        self._own_sends.add(month)

        def send() -> None:
            try:
                self._sending(bulletin, month, now)
            finally:
                self._own_sends.discard(month)
                if request_id is not None:
                    self._close_started(request_id)

        self.run_send(month, send)

    def _sending(self, bulletin: Bulletin, month: str, now: datetime) -> None:
        """The send itself, then its outcome checked: inline, or in a thread of its own."""
        assert bulletin.id is not None
        try:
            summary = self.deps.send(self.engine, self.settings, month, clock=self.clock)
        except SendInProgress:
            # Someone started `bulletin send` by hand at the same moment: their send goes on.
            log.info("%s: another process is already sending it; leaving it to them", month)
            return
        except Exception as exc:
            log.exception("%s: the scheduled send failed", month)
            self._alert_once(
                bulletin,
                Action.send_failed,
                now,
                f"FAILED: the {month} bulletin's scheduled send failed",
                f"The scheduled send of the {month} bulletin failed: {exc}\n\n"
                "The scheduler will not try again by itself. See what happened and resume "
                f"it from its page:\n\n    {self._page(month)}\n",
            )
            return
        with Session(self.engine) as session:
            row = session.get(Bulletin, bulletin.id)
            status = row.status if row is not None else None
        if status == BulletinStatus.stopped:
            log.info("%s: a person stopped the send; it waits for a person to resume it", month)
            return
        if status != BulletinStatus.sent:
            # Dispatch reports trouble in its summary (and a ``failed`` status), not by raising.
            log.error("%s: the scheduled send stopped (%s): %s", month, status, summary)
            self._alert_once(
                bulletin,
                Action.send_failed,
                now,
                f"FAILED: the {month} bulletin's scheduled send stopped",
                f"The scheduled send of the {month} bulletin stopped; it is {status}.\n"
                f"{summary}\n\nSee it and resume it from its page:\n\n    {self._page(month)}\n",
            )
            return
        log.info("%s: send finished: %s", month, summary)

    def _mark_missed(
        self, bulletin: Bulletin, now: datetime, reason: str, report: TickReport
    ) -> None:
        assert bulletin.id is not None
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Bulletin, bulletin.id)
            if row is None or row.status not in OPEN:
                return
            # Once per bulletin: one a person reopened after it was missed is theirs to send.
            if not claim(session, bulletin.id, Action.missed, at=now, detail=reason):
                session.rollback()
                return
            try:
                transition(session, row, BulletinStatus.missed, now=now)
            except TransitionError:
                session.rollback()
                return
            session.commit()
        log.warning("%s: NOT SENT, marked missed: %s", bulletin.month, reason)
        report.done.append(f"{bulletin.month}: missed ({reason})")
        self._alert_once(
            bulletin,
            Action.missed_alert,
            now,
            f"NOT SENT: the {bulletin.month} bulletin was missed",
            f"The {bulletin.month} bulletin ({bulletin.subject}) was not sent: {reason}.\n"
            "It is now marked missed. The scheduler will not send it. To send it anyway, "
            f"approve it and send it from its page:\n\n    {self._page(bulletin.month)}\n",
        )

    def _alert_once(
        self, bulletin: Bulletin, action: Action, now: datetime, subject: str, text: str
    ) -> bool:
        """Claim ``action``, then email; give the claim back if the email failed."""
        assert bulletin.id is not None
        with Session(self.engine) as session:
            if not claim(session, bulletin.id, action, at=now, detail=subject):
                return False
            session.commit()
        try:
            self.notifier.notify(subject, text)
        except Exception:
            log.exception(
                "%s: could not email the approvers (%s); will retry", bulletin.month, action
            )
            with Session(self.engine) as session:
                release(session, bulletin.id, action)
                session.commit()
            return False
        return True

    # --- messages --------------------------------------------------------------------------

    def _local(self, moment: datetime) -> str:
        return local_text(moment, self.settings.zone)

    def _page(self, month: str) -> str:
        """The bulletin's staff page, where the person acts (no email carries a command)."""
        return f"{self.settings.public_base_url.rstrip('/')}/admin/bulletins/{month}"

    def _approval_message(
        self, bulletin: Bulletin, tl: Timeline, *, reminder: bool = False
    ) -> tuple[str, str]:
        prefix = "Reminder: please approve" if reminder else "Please approve"
        checks = (
            "Its checks passed."
            if bulletin.checks_passed
            else "Its checks FAILED: fix the plan and rebuild it before it can be approved."
        )
        return (
            f"{prefix} the {tl.month} bulletin: {bulletin.subject}",
            f"The {tl.month} bulletin ({bulletin.theme}) is ready for approval.\n"
            f"It goes out at {self._local(tl.slot)} if approved by then; if not, it is not "
            f"sent.\n{checks}\n\nPreview it, then approve it or reject it with a comment:\n\n"
            f"    {self._page(tl.month)}\n",
        )

    def _stale_message(self, bulletin: Bulletin, tl: Timeline, stale: str) -> tuple[str, str]:
        return (
            f"Out of date: the {tl.month} bulletin needs rebuilding and approving",
            f"The approved {tl.month} bulletin will not be sent: {stale}.\n"
            f"Rebuild and approve it before {self._local(tl.grace_until)} on its page:\n\n"
            f"    {self._page(tl.month)}\n",
        )
