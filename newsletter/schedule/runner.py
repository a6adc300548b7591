"""The scheduler process: wait to lead, then run APScheduler's jobs until stopped.

APScheduler 3 keeps the jobs in a ``SQLAlchemyJobStore`` on the service's database, with
explicit ids and ``replace_existing=True`` so that a restart replaces them rather than adding
copies. A job store must never be shared by two running schedulers (APScheduler FAQ), so a
service starts its APScheduler only while it holds the leadership lock (:mod:`.leader`); a
second service waits as a standby and takes over when the first dies.

Module-level job functions (a persistent store pickles a textual reference):

* ``lifecycle-tick`` every NEWSLETTER_SCHEDULE_TICK_SECONDS: :meth:`Lifecycle.tick`;
* ``retention`` daily at 03:17 local time: roll up and delete old raw events, and purge
  sign-ups never confirmed within their 72 hours;
* ``bounce-mailbox`` every NEWSLETTER_BOUNCE_CHECK_SECONDS, only when NEWSLETTER_BOUNCE_MAILBOX
  is set: read delivery status notifications (:mod:`newsletter.tracking.bounce_mailbox`).

``python scheduler.py`` runs a :class:`SchedulerService` with a ``BlockingScheduler``;
``newsletter run`` runs one with a ``BackgroundScheduler`` in a thread beside the web app.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MISSED,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import Engine, inspect, select

from newsletter.clock import Clock, SystemClock
from newsletter.config import Settings, get_settings
from newsletter.db import engine_from_settings, ensure_schema, make_engine, session_scope
from newsletter.dispatch import request_shutdown
from newsletter.models.schedule import JOBS_TABLE, apscheduler_jobs
from newsletter.plan.slots import next_slot_after
from newsletter.schedule.control import beat
from newsletter.schedule.deps import Deps
from newsletter.schedule.leader import Leadership, leadership_for
from newsletter.schedule.retention import apply_retention
from newsletter.schedule.tick import Lifecycle, TickReport
from newsletter.schedule.timeline import local_text
from newsletter.schedule.wiring import default_deps
from newsletter.subscribers.signup import purge_expired_signups
from newsletter.tracking.bounce_mailbox import BounceReadReport, MailboxError, read_bounces

log = logging.getLogger(__name__)

TICK_JOB_ID = "lifecycle-tick"
RETENTION_JOB_ID = "retention"
BOUNCE_JOB_ID = "bounce-mailbox"
RETENTION_AT = (3, 17)  # local time: quiet, and off the :00 when everything else runs

# The running services of this process, by name: what the stored jobs' references resolve to.
_services: dict[str, SchedulerService] = {}


def tick_job(name: str = "default") -> None:
    """APScheduler job: one lifecycle tick of the named service (if it still leads)."""
    service = _services.get(name)
    if service is None:
        log.warning("no scheduler service %r runs in this process; tick ignored", name)
        return
    service.tick()


def retention_job(name: str = "default") -> None:
    """APScheduler job: the daily retention run of the named service (if it still leads)."""
    service = _services.get(name)
    if service is None:
        log.warning("no scheduler service %r runs in this process; retention ignored", name)
        return
    service.retention()


def bounce_job(name: str = "default") -> None:
    """APScheduler job: read the bounce mailbox of the named service (if it still leads)."""
    service = _services.get(name)
    if service is None:
        log.warning("no scheduler service %r runs in this process; bounce read ignored", name)
        return
    service.read_bounces()


class SchedulerService:
    """Leadership plus an APScheduler with the two jobs; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        clock: Clock | None = None,
        deps: Deps | None = None,
        leadership: Leadership | None = None,
        blocking: bool = False,
        name: str = "default",
        standby_retry: float = 15.0,
    ) -> None:
        self.settings = settings
        self.engine = engine if engine is not None else engine_from_settings(settings)
        self.clock = clock or SystemClock()
        self.deps = deps or default_deps()
        self.leadership = leadership or leadership_for(settings)
        self.blocking = blocking
        self.name = name
        self.standby_retry = standby_retry
        self.lifecycle = Lifecycle(
            self.engine, settings, clock=self.clock, deps=self.deps, run_send=self._send_in_thread
        )
        self._stop = threading.Event()
        self._wake = threading.Event()  # set on stop or when leadership is lost
        self._scheduler: BaseScheduler | None = None
        self._thread: threading.Thread | None = None
        self._sends: list[threading.Thread] = []
        self._leading_since: datetime | None = None

    # --- what the jobs do ------------------------------------------------------------------

    def tick(self) -> TickReport | None:
        """One lifecycle tick if this service leads; None, having done nothing, otherwise."""
        if not self.leadership.still_held():
            log.error(
                "this scheduler no longer holds %s; standing down", self.leadership.description
            )
            self._stand_down()
            return None
        report = self.lifecycle.tick()
        self._beat()
        for line in report.done:
            log.info("done: %s", line)
        if report.done:
            self.log_next(report)
        return report

    def _beat(self) -> None:
        """Record this tick, so the staff app can say a scheduler is there (and which)."""
        try:
            with session_scope(self.engine) as session:
                beat(
                    session,
                    name=self.name,
                    now=self.clock.now(),
                    tick_seconds=self.settings.schedule_tick_seconds,
                    leading_since=self._leading_since or self.clock.now(),
                )
        except Exception:  # the heartbeat must never stop the scheduler
            log.exception("could not record the scheduler's heartbeat")

    def retention(self) -> int | None:
        if not self.leadership.still_held():
            self._stand_down()
            return None
        with session_scope(self.engine) as session:
            purged = purge_expired_signups(session, now=self.clock.now())
        if purged:
            log.info("retention: %d expired sign-up(s) purged", purged)
        return apply_retention(
            self.engine,
            months=self.settings.retention_months,
            clock=self.clock,
            roll_up=self.deps.roll_up,
        )

    def read_bounces(self) -> BounceReadReport | None:
        """Read the bounce mailbox once; None when not leading or no mailbox is set."""
        mailbox = self.settings.bounce_mailbox
        if mailbox is None:
            return None
        if not self.leadership.still_held():
            self._stand_down()
            return None
        try:
            return read_bounces(
                self.engine,
                mailbox.get_secret_value(),
                now=self.clock.now(),
                mode=self.settings.tracking,
            )
        except MailboxError as exc:
            log.error("bounce mailbox: %s", exc)
            return None

    def _send_in_thread(self, month: str, send: Callable[[], None]) -> None:
        # Not a daemon: a stopping process lets a send in progress finish its batch loop.
        thread = threading.Thread(target=send, name=f"send-{month}")
        self._sends = [t for t in self._sends if t.is_alive()] + [thread]
        thread.start()

    def join_sends(self, timeout: float | None = None) -> None:
        """Wait for the sends this service started to finish."""
        for thread in list(self._sends):
            thread.join(timeout)

    # --- APScheduler -----------------------------------------------------------------------

    def build_scheduler(self) -> BaseScheduler:
        """An APScheduler with the job store on our database and both jobs added."""
        store = SQLAlchemyJobStore(
            # Its own engine: the store disposes of it at shutdown.
            engine=make_engine(self.settings.resolved_database_url),
            tablename=JOBS_TABLE,
        )
        cls = BlockingScheduler if self.blocking else BackgroundScheduler
        scheduler = cls(
            timezone=UTC,
            jobstores={"default": store},
            executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        seconds = self.settings.schedule_tick_seconds
        scheduler.add_job(
            f"{__name__}:tick_job",
            "interval",
            seconds=seconds,
            args=[self.name],
            id=TICK_JOB_ID,
            name="lifecycle tick: build, remind, send, mark missed",
            replace_existing=True,
            next_run_time=datetime.now(UTC),  # tick at once on start-up (catches misfires)
            misfire_grace_time=max(seconds * 5, 60),
        )
        hour, minute = RETENTION_AT
        scheduler.add_job(
            f"{__name__}:retention_job",
            "cron",
            hour=hour,
            minute=minute,
            timezone=self.settings.zone,
            args=[self.name],
            id=RETENTION_JOB_ID,
            name=f"retention: roll up raw events older than {self.settings.retention_months} months",
            replace_existing=True,
            misfire_grace_time=6 * 3600,
        )
        if self.settings.bounce_mailbox is not None:
            scheduler.add_job(
                f"{__name__}:bounce_job",
                "interval",
                seconds=self.settings.bounce_check_seconds,
                args=[self.name],
                id=BOUNCE_JOB_ID,
                name="bounce mailbox: delivery status notifications over IMAP",
                replace_existing=True,
                misfire_grace_time=self.settings.bounce_check_seconds,
            )
        scheduler.add_listener(self._job_trouble, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        return scheduler

    @staticmethod
    def _job_trouble(event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)
        else:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)

    def log_next(self, report: TickReport | None = None) -> None:
        """Log what the scheduler will do next: the next lifecycle step and the jobs' runs."""
        zone = self.settings.zone
        try:
            step = report.next_step if report is not None else self.lifecycle.next_step()
        except Exception:  # saying what comes next must never stop the scheduler
            log.exception("cannot work out the next step")
            step = None
        if step is None:
            log.info("next: nothing planned; %s", self._default_slot_note())
        else:
            log.info(
                "next: %s %s at %s (%s UTC)",
                step.month,
                step.action,
                local_text(step.at, zone),
                step.at.strftime("%Y-%m-%d %H:%M"),
            )
        scheduler = self._scheduler
        if scheduler is not None and report is None:
            for job in scheduler.get_jobs():
                when = getattr(job, "next_run_time", None)
                log.info(
                    "job %s: next run %s",
                    job.id,
                    local_text(when, zone) if when is not None else "paused",
                )

    def _default_slot_note(self) -> str:
        plan, problem = self.lifecycle.load_plan()
        if plan is None:
            return f"the plan cannot be read: {problem}"
        slot = next_slot_after(plan.slot, self.clock.now())
        return (
            f"the default slot next fires {local_text(slot, self.settings.zone)} "
            f"but the plan has no theme for {slot:%Y-%m}"
        )

    # --- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Wait to lead, lead until stopped or the lock is lost, and repeat. Blocks."""
        _services[self.name] = self
        try:
            said_standby = False
            while not self._stop.is_set():
                try:
                    leading = self.leadership.try_acquire()
                except Exception:  # the database is unreachable: wait and try again
                    log.exception("cannot take %s", self.leadership.description)
                    self._stop.wait(self.standby_retry)
                    continue
                if not leading:
                    if not said_standby:  # once, not every few seconds for months
                        log.info(
                            "standby: another scheduler leads (%s); trying every %gs",
                            self.leadership.description,
                            self.standby_retry,
                        )
                        said_standby = True
                    self._stop.wait(self.standby_retry)
                    continue
                said_standby = False
                log.info("this scheduler leads (%s)", self.leadership.description)
                try:
                    self._lead()
                except Exception:
                    log.exception("the scheduler failed; standing down, then trying again")
                    self._stop.wait(self.standby_retry)
                finally:
                    self.leadership.release()
        finally:
            _services.pop(self.name, None)
            log.info("scheduler stopped")

    def _lead(self) -> None:
        self._wake.clear()
        self._leading_since = self.clock.now()
        scheduler = self.build_scheduler()
        self._scheduler = scheduler
        try:
            if self.blocking:
                # BlockingScheduler.start() only returns after shutdown, so say what comes
                # next from its start event, once the stored jobs have their run times.
                scheduler.add_listener(lambda _event: self.log_next(), EVENT_SCHEDULER_STARTED)
                scheduler.start()
            else:
                scheduler.start()
                self.log_next()
                self._wake.wait()
                scheduler.shutdown(wait=True)
        finally:
            self._scheduler = None

    def _stand_down(self) -> None:
        self._wake.set()
        scheduler = self._scheduler
        if self.blocking and scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    def stop(self) -> None:
        """Stop leading (or waiting) and let :meth:`run` return."""
        self._stop.set()
        self._stand_down()

    def start_in_thread(self) -> threading.Thread:
        """Run in a daemon thread (``newsletter run``); :meth:`stop` then ``join`` it."""
        thread = threading.Thread(target=self.run, name=f"scheduler-{self.name}", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def stop_thread(self, timeout: float = 30.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.join_sends(timeout)


def stored_jobs(engine: Engine) -> list[tuple[str, datetime | None]]:
    """The jobs in the job store and their next run (UTC), without unpickling them."""
    if not inspect(engine).has_table(JOBS_TABLE):
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(apscheduler_jobs.c.id, apscheduler_jobs.c.next_run_time).order_by(
                apscheduler_jobs.c.id
            )
        ).all()
    return [
        (str(job_id), datetime.fromtimestamp(ts, UTC) if ts is not None else None)
        for job_id, ts in rows
    ]


def main() -> None:
    """``python scheduler.py``: the scheduler on its own, until SIGTERM or Ctrl-C."""
    from newsletter.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    # SQLite (embedded) migrates itself; PostgreSQL must have been migrated at deploy time.
    ensure_schema(settings.resolved_database_url)
    # A standby tries to lead as often as a leader ticks (at most every 15 s): a dead leader's
    # sends are resumed within about one tick.
    service = SchedulerService(
        settings, blocking=True, standby_retry=min(15.0, float(settings.schedule_tick_seconds))
    )

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping (a send in progress stops after its batch in flight)", signum)
        request_shutdown()
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
    service.join_sends(timeout=8.0)
    service.engine.dispose()
