"""What needs a person now: the staff dashboard's alerts, each with what it means and where to act.

One function, :func:`collect`, reads the few rows it needs (bulletins, their failed and unknown
deliveries counted per bulletin by the ledger's index, the scheduler's recorded reasons, the
last SendGrid webhook post) and says, in words:

* **missed**: a bulletin marked ``missed`` (its slot passed unsent; the scheduler's reason is
  recorded in ``schedule_action``), or a planned month whose slot passed with no draft built;
  for :data:`RECENT` after its send time;
* **paused**: a bulletin paused before its send (it will not go out until someone resumes it);
* **failed**: a send that ended ``failed``, or a send of the last :data:`RECENT` with
  deliveries ``failed`` (refused for good) or ``unknown`` (may have arrived; never resent
  without a person's decision);
* **stopped**: a send a person stopped; nothing resumes it but a person;
* **webhook**: with SendGrid as the transport and a send started in the last
  :data:`WEBHOOK_WATCH`, no Event Webhook post stored for :data:`WEBHOOK_SILENCE` (counted from
  the later of the last post and the send's start). Every verified post stores its events
  (unmatched ones too, with their payload), each with the post's ``recorded_at``, so the events
  table is the durable "last heard" record, shared by every process and host;
* **scheduler**: no scheduler is working while the plan has a step ahead: no process holds
  the leadership lock (:func:`newsletter.schedule.leader_present`), or the one holding it has
  not recorded its heartbeat for three ticks (:func:`newsletter.schedule.scheduler_state`, the
  same words the bulletin page's "send now" gives). Nothing will be built, reminded or sent at
  its time.

Every alert links to the staff page where the person acts and names the roles that act on it,
so the dashboard shows each person theirs first. The same words are in docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from newsletter.config import Settings
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventSource,
    ScheduleAction,
)
from newsletter.plan import key_label
from newsletter.schedule import OPEN, MonthOutlook, SchedulerState, local_text

RECENT = timedelta(days=45)  # missed and failed sends older than this are history
WEBHOOK_SILENCE = timedelta(hours=24)
WEBHOOK_WATCH = timedelta(days=14)  # after a send starts, its events keep coming for weeks
NEVER_BUILT = "never built: not sent"  # the outlook's status of a past month with no draft

SENT_ONCE = (
    BulletinStatus.sending,
    BulletinStatus.sent,
    BulletinStatus.failed,
    BulletinStatus.stopped,
)


class Kind(StrEnum):
    missed = "missed"
    paused = "paused"
    failed = "failed"
    stopped = "stopped"
    webhook = "webhook"
    scheduler = "scheduler"


# Most urgent first: a send a person must finish or decide on, then what stops the next one.
ORDER = (Kind.failed, Kind.stopped, Kind.missed, Kind.scheduler, Kind.paused, Kind.webhook)


@dataclass(frozen=True)
class Alert:
    kind: Kind
    title: str
    meaning: str  # what it means, in words
    link: str  # the staff page where the person acts
    link_text: str
    roles: tuple[str, ...]  # who acts on it ("editor", "approver", "admin")
    month: str | None = None

    def is_for(self, roles: Iterable[str]) -> bool:
        return bool(set(self.roles) & set(roles))


def month_label(key: str) -> str:
    """'July 2026', or 'July 2026 (correction)' for an extra edition."""
    return key_label(key)


def _page(month: str) -> str:
    return f"/admin/bulletins/{month}"


def collect(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    outlook: Sequence[MonthOutlook],
    scheduler: SchedulerState,
) -> list[Alert]:
    """Every alert that stands at ``now``, most urgent first (see the module docstring).

    ``outlook`` is :func:`newsletter.schedule.outlook`'s rows at ``now`` (the dashboard reads
    them anyway); ``scheduler`` what :func:`newsletter.schedule.scheduler_state` says.
    """
    bulletins = list(session.exec(select(Bulletin)))
    found: list[Alert] = []
    found += _missed(session, bulletins, outlook, now)
    found += _paused(bulletins, settings, now)
    found += _failed_and_stopped(session, bulletins, now)
    webhook = _webhook(session, settings, bulletins, now)
    if webhook is not None:
        found.append(webhook)
    if not scheduler.running:
        ahead = [row for row in outlook if row.next_at is not None]
        if ahead:
            first = min(ahead, key=lambda r: r.next_at or now)
            found.append(_no_scheduler(first, scheduler, settings))
    return sorted(found, key=lambda a: (ORDER.index(a.kind), a.month or ""))


def _missed(
    session: Session, bulletins: list[Bulletin], outlook: Sequence[MonthOutlook], now: datetime
) -> list[Alert]:
    missed = [
        b
        for b in bulletins
        if b.status == BulletinStatus.missed and (b.send_at is None or b.send_at >= now - RECENT)
    ]
    reasons: dict[int, str] = {}
    if missed:
        reasons = {
            bulletin_id: detail
            for bulletin_id, detail in session.exec(
                select(ScheduleAction.bulletin_id, ScheduleAction.detail).where(
                    col(ScheduleAction.bulletin_id).in_([b.id for b in missed]),
                    col(ScheduleAction.action) == "missed",
                )
            )
        }
    out = []
    for b in missed:
        assert b.id is not None
        why = reasons.get(b.id) or "its send time passed and it was not sent"
        out.append(
            Alert(
                Kind.missed,
                f"{month_label(b.month)} was not sent",
                f"It was not sent: {why}. The scheduler will not send it now. "
                "Approve and send it late from its page, or leave it unsent.",
                _page(b.month),
                f"Decide about the {month_label(b.month)} bulletin",
                ("editor", "approver"),
                b.month,
            )
        )
    built = {b.month for b in bulletins}
    for row in outlook:
        if row.month in built or row.status != NEVER_BUILT or row.slot < now - RECENT:
            continue
        out.append(
            Alert(
                Kind.missed,
                f"{month_label(row.month)} was not sent",
                "Its send time passed and no draft had been built, so nothing was sent. Build "
                "it from its page to send it late, or leave it unsent.",
                _page(row.month),
                f"Open the {month_label(row.month)} bulletin",
                ("editor",),
                row.month,
            )
        )
    return out


def _paused(bulletins: list[Bulletin], settings: Settings, now: datetime) -> list[Alert]:
    out = []
    grace = timedelta(hours=settings.send_grace_hours)
    for b in bulletins:
        if not b.schedule_paused or b.status not in OPEN:
            continue
        if b.send_at is not None and b.send_at + grace <= now:
            continue  # the scheduler marks it missed: the missed alert says so
        when = local_text(b.send_at, settings.zone) if b.send_at else "its send time"
        if b.send_at is not None and b.send_at <= now:
            meaning = (
                f"It was due at {when} and did not go out because it is paused. Resume it "
                f"before {local_text(b.send_at + grace, settings.zone)} to send it now; after "
                "that it is marked missed."
            )
        else:
            meaning = f"It will not go out at {when} unless someone resumes it."
        out.append(
            Alert(
                Kind.paused,
                f"{month_label(b.month)} is paused",
                meaning,
                _page(b.month),
                f"Resume or reschedule the {month_label(b.month)} bulletin",
                ("editor",),
                b.month,
            )
        )
    return out


def _failed_and_stopped(session: Session, bulletins: list[Bulletin], now: datetime) -> list[Alert]:
    watched = [
        b
        for b in bulletins
        if b.status in (BulletinStatus.failed, BulletinStatus.stopped)
        or (
            b.status == BulletinStatus.sent
            and b.send_started_at is not None
            and b.send_started_at >= now - RECENT
        )
    ]
    counts: dict[tuple[int, str], int] = {}
    if watched:
        # One grouped read along the ledger's (bulletin, status, id) index.
        rows = session.exec(
            select(Delivery.bulletin_id, Delivery.status, func.count())
            .where(
                col(Delivery.bulletin_id).in_([b.id for b in watched]),
                col(Delivery.status).in_([DeliveryStatus.failed, DeliveryStatus.unknown]),
            )
            .group_by(col(Delivery.bulletin_id), col(Delivery.status))
        )
        counts = {(bulletin_id, str(status)): int(n) for bulletin_id, status, n in rows}
    out = []
    for b in watched:
        assert b.id is not None
        failed = counts.get((b.id, DeliveryStatus.failed.value), 0)
        unknown = counts.get((b.id, DeliveryStatus.unknown.value), 0)
        label = month_label(b.month)
        trouble = _trouble(failed, unknown)
        if b.status == BulletinStatus.stopped:
            out.append(
                Alert(
                    Kind.stopped,
                    f"The {label} send was stopped",
                    "A person stopped the send after its batch in flight; nothing resumes it but "
                    "a person. Nobody already sent to gets it twice when it is resumed."
                    + (f" So far: {trouble}." if trouble else ""),
                    f"{_page(b.month)}/progress",
                    f"Resume or leave the {label} send",
                    ("editor", "approver"),
                    b.month,
                )
            )
        elif b.status == BulletinStatus.failed or trouble:
            ended = "stopped part-way" if b.status == BulletinStatus.failed else "finished"
            out.append(
                Alert(
                    Kind.failed,
                    f"The {label} send {ended} with failures",
                    f"The send {ended}"
                    + (f": {trouble}" if trouble else "")
                    + ". Failed messages were refused for good (see why on the report); unknown "
                    "ones may have arrived and are never resent without a person's decision.",
                    f"{_page(b.month)}/progress",
                    f"See the {label} send",
                    ("editor", "approver"),
                    b.month,
                )
            )
    return out


def _trouble(failed: int, unknown: int) -> str:
    parts = []
    if failed:
        parts.append(f"{failed} message{'s' if failed != 1 else ''} failed")
    if unknown:
        parts.append(f"{unknown} with an unknown outcome")
    return " and ".join(parts)


def last_webhook_post(session: Session, *, since: datetime) -> datetime | None:
    """When the last SendGrid webhook post was stored, looking at events since ``since``
    (bounded by the events' time index, whatever the history)."""
    heard: datetime | None = session.exec(
        select(func.max(Event.recorded_at)).where(
            col(Event.occurred_at) >= since, col(Event.source) == EventSource.sendgrid
        )
    ).one()
    return heard


def _webhook(
    session: Session, settings: Settings, bulletins: list[Bulletin], now: datetime
) -> Alert | None:
    if settings.transport != "sendgrid":
        return None
    sends = [
        b
        for b in bulletins
        if b.status in SENT_ONCE
        and b.send_started_at is not None
        and b.send_started_at >= now - WEBHOOK_WATCH
    ]
    if not sends:
        return None
    latest = max(sends, key=lambda b: b.send_started_at or now)
    assert latest.send_started_at is not None
    expected_since = latest.send_started_at
    # Events a post carries happened shortly before it (SendGrid retries for 24 hours).
    heard = last_webhook_post(session, since=now - WEBHOOK_WATCH - timedelta(days=3))
    quiet_since = max(heard, expected_since) if heard is not None else expected_since
    if now - quiet_since < WEBHOOK_SILENCE:
        return None
    last = (
        f"It was last heard from at {local_text(heard, settings.zone)}"
        if heard is not None
        else "Nothing has been heard from it"
    )
    return Alert(
        Kind.webhook,
        "SendGrid's webhook has not been heard from in 24 hours",
        f"{last}, although a bulletin was sent on {local_text(expected_since, settings.zone)}. "
        "Without it, deliveries, bounces, complaints and unsubscribes at SendGrid are not "
        "recorded, so bounced and complaining addresses keep being sent to. Ask whoever runs "
        "the service to check the Event Webhook's URL and verification key in SendGrid.",
        _page(latest.month),
        f"See the {month_label(latest.month)} send",
        ("admin",),
        latest.month,
    )


def _no_scheduler(row: MonthOutlook, scheduler: SchedulerState, settings: Settings) -> Alert:
    assert row.next_at is not None
    title = "No scheduler is running"
    if scheduler.heartbeat is not None and "holds the lead" in scheduler.text:
        title = "The scheduler has stopped checking in"
    return Alert(
        Kind.scheduler,
        title,
        f"{scheduler.text} Nothing will be built, reminded or sent at its time until one "
        f"works. Next due: {month_label(row.month)}, {row.next_action}, at "
        f"{local_text(row.next_at, settings.zone)}.",
        _page(row.month),
        f"Open the {month_label(row.month)} bulletin",
        ("admin", "editor", "approver"),
        row.month,
    )
