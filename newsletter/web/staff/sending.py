"""Scheduling and sending a bulletin from its page: change the send time, pause and resume,
"send now", resume a stopped send, and watch a send.

* ``/admin/bulletins/{month}/schedule``: the send date and time. Saving it writes a new plan
  revision of the month's send override (:mod:`newsletter.plan.store`, the same checks as the
  month editor). The approval stands: it is of the content, not of the time
  (:mod:`newsletter.plan.digest`).
* ``/admin/bulletins/{month}/schedule/pause`` and ``.../schedule/resume``: hold the bulletin
  back from the scheduler, or let it go (:func:`newsletter.schedule.set_paused`, the command
  line's ``schedule pause/resume``).
* ``/admin/bulletins/{month}/send`` and ``.../send/resume``: "send now", or resume a send a
  person stopped. Recorded as a request (:func:`newsletter.schedule.request_send`) that the
  leading scheduler carries out on its next tick; the page says plainly when no scheduler runs.
* ``/admin/bulletins/{month}/progress`` (and ``progress.json``, polled by
  ``/static/progress.js``): sent, failed and unknown per agency, the rate and time to finish,
  where the send runs; after the send, delivered, bounced and complaints.

Every change shows a confirmation page first (GET), with the recipients per agency (the
command line's dry-run numbers), and goes through the one sendability rule; the POST acts,
records the activity and redirects (Post/Redirect/Get).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.dispatch import DispatchError, DryRun, SendProgress, dry_run, send_progress
from newsletter.models import (
    Agency,
    Bulletin,
    BulletinStatus,
    SendRequest,
    SendRequestKind,
    User,
)
from newsletter.plan import (
    PlanInvalid,
    StaleRevision,
    agency_slugs,
    current_revision,
    form_from_theme,
    save_documents,
    send_time,
    sent_months,
    theme_document,
    theme_path,
)
from newsletter.reports import bulletin_headline
from newsletter.schedule import (
    OPEN,
    RESUMABLE,
    ScheduleRefused,
    SchedulerState,
    last_request,
    leader_present,
    open_request,
    request_refusal,
    request_send,
    scheduler_state,
    set_paused,
    withdraw_request,
)
from newsletter.sendability import start_refusal_reason
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, Staff, require, staff_router
from newsletter.web.staff.bulletins import _bulletin, _month_or_404
from newsletter.web.staff.plan import load_state, month_name
from newsletter.web.staff.render import flash, format_when, render, see_other

log = logging.getLogger(__name__)

router = staff_router()
Editor = Annotated[User, Depends(require("editor"))]
Sender = Annotated[User, Depends(require("editor", "approver"))]

POLL_SECONDS = 2  # how often the progress page's script asks for the figures


# --- what the pages show ----------------------------------------------------------------------


@dataclass(frozen=True)
class Recipients:
    """Who a send would reach now, per agency: the dry run's numbers."""

    rows: list[tuple[str, int]]  # (agency name, messages)
    total: int
    without_variant: list[str]  # agencies whose subscribers would get nothing


def _agency_names(db: Session) -> dict[str, str]:
    return {a.slug: a.name for a in db.exec(select(Agency).order_by(col(Agency.position)))}


def recipients(db: Session, settings: Settings, month: str) -> Recipients | None:
    """The dry-run numbers of ``bulletin send MONTH --dry-run``, per agency (None: not built)."""
    try:
        result: DryRun = dry_run(db, settings, month)
    except DispatchError:
        return None
    names = _agency_names(db)
    started = any(r.in_ledger for r in result.rows)
    rows: list[tuple[str, int]] = []
    missing: list[str] = []
    for row in result.rows:
        if row.variant_id is None:
            if row.audience:
                missing.append(names.get(row.agency, row.agency))
            continue
        count = row.pending if started else row.audience
        rows.append((names.get(row.agency, row.agency), count))
    order = list(names.values())
    rows.sort(key=lambda r: (order.index(r[0]) if r[0] in order else len(order), r[0]))
    return Recipients(rows=rows, total=result.would_send, without_variant=missing)


def _scheduler(db: Session, settings: Settings, clock: Clock) -> SchedulerState:
    try:
        present = leader_present(settings)
    except Exception:  # a probe that fails must not break the page
        log.exception("cannot tell whether a scheduler leads")
        present = False
    return scheduler_state(db, leader_present=present, now=clock.now())


def _require(bulletin: Bulletin | None) -> Bulletin:
    if bulletin is None:
        raise HTTPException(status_code=404)
    return bulletin


# --- the send time ----------------------------------------------------------------------------


def _local_parts(moment: datetime | None, settings: Settings) -> tuple[str, str]:
    if moment is None:
        return "", ""
    local = moment.astimezone(settings.zone)
    return local.date().isoformat(), f"{local:%H:%M}"


@dataclass
class _Move:
    send_date: str
    send_time: str
    base: int | None
    errors: dict[str, str]
    at: datetime | None = None  # the new send time (UTC), once the fields are valid


def _parse_move(
    month: str, send_date: str, send_time_text: str, base: str, *, settings: Settings, now: datetime
) -> _Move:
    move = _Move(
        send_date.strip(), send_time_text.strip(), int(base) if base.isdigit() else None, {}
    )
    try:
        day = date.fromisoformat(move.send_date)
    except ValueError:
        move.errors["send_date"] = "Enter the send date as a date, for example 2026-12-08"
        day = None
    try:
        at = time.fromisoformat(move.send_time)
    except ValueError:
        move.errors["send_time"] = "Enter the send time as hours and minutes, for example 09:00"
        at = None
    if day is not None and f"{day:%Y-%m}" != month[:7]:
        move.errors["send_date"] = f"Choose a date in {month_name(month[:7])}"
    if day is not None and at is not None and not move.errors:
        moment = datetime.combine(day, at.replace(second=0, microsecond=0), tzinfo=settings.zone)
        if moment <= now:
            move.errors["send_time"] = (
                "Choose a time in the future. To send it straight away, use Send now"
            )
        else:
            move.at = moment
    return move


def _move_page(
    request: Request,
    db: Session,
    settings: Settings,
    clock: Clock,
    month: str,
    move: _Move | None = None,
    *,
    confirm: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    state = load_state(db, settings)
    bulletin = _bulletin(db, month)
    theme = state.plan.themes.get(month) if state.plan is not None else None
    current = send_time(state.plan, theme) if state.plan is not None and theme else None
    if move is None:
        day, at = _local_parts(current, settings)
        move = _Move(day, at, state.revision.number if state.revision else None, {})
    refusal = None
    if bulletin is not None:
        refusal = start_refusal_reason(bulletin, state.plan)
    return render(
        request,
        "staff/bulletins/schedule.html",
        status_code=status_code,
        month=month,
        month_label=month_name(month),
        bulletin=bulletin,
        theme=theme,
        current=current,
        move=move,
        errors=move.errors,
        confirm=confirm,
        refusal=refusal,
        plan_problem="; ".join(state.problem) if state.plan is None else "",
        recipients=recipients(db, settings, month) if bulletin is not None else None,
        default_slot=state.plan.slot if state.plan is not None else None,
        timezone=settings.timezone,
    )


def _refuse_move(db: Session, month: str) -> str | None:
    if month in sent_months(db):
        return f"{month_name(month)} has been sent: its send time is kept as it was"
    bulletin = _bulletin(db, month)
    if bulletin is not None and bulletin.status not in OPEN:
        if bulletin.status == BulletinStatus.missed:
            return (
                f"{month_name(month)} was missed: the scheduler will not send it at any time. "
                "Use Send now instead"
            )
        return f"{month_name(month)} is {bulletin.status}: its send time can no longer change"
    return None


@router.get("/bulletins/{month}/schedule", response_class=HTMLResponse)
def schedule_form(
    request: Request,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """The month's send date and time, to change."""
    _month_or_404(month)
    problem = _refuse_move(db, month)
    move = None
    if problem is not None:
        move = _Move("", "", None, {"send_date": problem})
    return _move_page(request, db, settings, clock, month, move)


@router.post("/bulletins/{month}/schedule", response_class=HTMLResponse)
def schedule_move(
    request: Request,
    staff: CurrentStaff,
    editor: Editor,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
    send_date: Annotated[str, Form(max_length=20)] = "",
    send_time_text: Annotated[str, Form(alias="send_time", max_length=20)] = "",
    base: Annotated[str, Form(max_length=12)] = "",
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Check the new send time (a confirmation page), then save it as a plan revision."""
    _month_or_404(month)
    now = clock.now()
    move = _parse_move(month, send_date, send_time_text, base, settings=settings, now=now)
    problem = _refuse_move(db, month)
    if problem is not None:
        move.errors = {"send_date": problem}
    if move.errors or move.at is None:
        return _move_page(request, db, settings, clock, month, move, status_code=400)
    if confirm != "yes":
        return _move_page(request, db, settings, clock, month, move, confirm=True)
    state = load_state(db, settings)
    theme = state.plan.themes.get(month) if state.plan is not None else None
    if theme is None:
        move.errors = {"send_date": f"The plan has no theme for {month_name(month)}: plan it first"}
        return _move_page(request, db, settings, clock, month, move, status_code=400)
    form = form_from_theme(theme, month=month)
    form.send_date = move.send_date
    form.send_time = f"{move.at.astimezone(settings.zone):%H:%M}"
    current = current_revision(db)
    documents = dict(current.documents) if current is not None else {}
    documents[theme_path(month)] = theme_document(form)
    when = format_when(move.at, settings.zone)
    try:
        saved = save_documents(
            db,
            documents,
            base=move.base,
            author=editor.email,
            message=f"{month_name(month)}: send time moved to {when}",
            agencies=agency_slugs(settings),
        )
    except PlanInvalid as exc:
        db.rollback()
        move.errors = {"send_date": "; ".join(e.message for e in exc.errors) or str(exc)}
        return _move_page(request, db, settings, clock, month, move, status_code=400)
    except StaleRevision as exc:
        db.rollback()
        move.errors = {"send_date": str(exc)}
        move.base = exc.current
        return _move_page(request, db, settings, clock, month, move, status_code=409)
    bulletin = _bulletin(db, month)
    if bulletin is not None and saved.plan is not None and bulletin.status in OPEN:
        # What the scheduler's next tick would do anyway: the page shows the new time at once.
        bulletin.send_at = send_time(saved.plan, saved.plan.theme(month))
        db.add(bulletin)
    if saved.created:
        record(
            db,
            actor=editor,
            action="bulletin.move_send",
            object=f"bulletin:{month}",
            detail=f"send time moved to {when} (plan revision {saved.revision.number})",
        )
        flash(staff, f"{month_name(month)} now goes out {when}; its approval stands")
    else:
        flash(staff, f"{month_name(month)} already goes out {when}: nothing was changed")
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


# --- pause and resume -------------------------------------------------------------------------


def _pause_page(
    request: Request,
    db: Session,
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    pause: bool,
    error: str | None = None,
) -> HTMLResponse:
    state = load_state(db, settings)
    bulletin = _require(_bulletin(db, month))
    after = None
    if not pause:
        # Sendability as it would be once resumed: the reason it still would not go, if any.
        # (status is read back from the database as text: no warning for that in the copy)
        bulletin_copy = Bulletin.model_validate(bulletin.model_dump(warnings=False))
        bulletin_copy.schedule_paused = False
        after = start_refusal_reason(bulletin_copy, state.plan)
    now = clock.now()
    grace = timedelta(hours=settings.send_grace_hours)
    slot_passed = bulletin.send_at is not None and bulletin.send_at <= now
    too_late = bulletin.send_at is not None and bulletin.send_at + grace <= now
    return render(
        request,
        "staff/bulletins/pause.html",
        status_code=400 if error else 200,
        month=month,
        month_label=month_name(month),
        bulletin=bulletin,
        pause=pause,
        errors={"pause": error} if error else {},
        refusal_after=after,
        slot_passed=slot_passed,
        too_late=too_late,
        grace_hours=settings.send_grace_hours,
        recipients=recipients(db, settings, month),
    )


@router.get("/bulletins/{month}/schedule/pause", response_class=HTMLResponse)
def pause_confirm(
    request: Request,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """Check before pausing: the scheduler will not send it until a person resumes it."""
    return _pause_page(request, db, settings, clock, _month_or_404(month), pause=True)


@router.get("/bulletins/{month}/schedule/resume", response_class=HTMLResponse)
def resume_confirm(
    request: Request,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """Check before resuming: when it will go, and whether anything else still stops it."""
    return _pause_page(request, db, settings, clock, _month_or_404(month), pause=False)


def _set_paused(
    request: Request,
    staff: Staff,
    user: User,
    db: Session,
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    paused: bool,
) -> Response:
    try:
        set_paused(db, month, paused=paused)
    except ScheduleRefused as exc:
        db.rollback()
        return _pause_page(request, db, settings, clock, month, pause=paused, error=str(exc))
    record(
        db,
        actor=user,
        action="bulletin.pause" if paused else "bulletin.resume_schedule",
        object=f"bulletin:{month}",
    )
    flash(
        staff,
        f"{month_name(month)} paused: the scheduler will not send it until it is resumed"
        if paused
        else f"{month_name(month)} resumed",
    )
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


@router.post("/bulletins/{month}/schedule/pause", response_class=HTMLResponse)
def pause(
    request: Request,
    staff: CurrentStaff,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Pause the month: the scheduler does not send it until a person resumes it."""
    _month_or_404(month)
    return _set_paused(request, staff, user, db, settings, clock, month, paused=True)


@router.post("/bulletins/{month}/schedule/resume", response_class=HTMLResponse)
def resume_schedule(
    request: Request,
    staff: CurrentStaff,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Resume a paused month: the scheduler sends it at its time again."""
    _month_or_404(month)
    return _set_paused(request, staff, user, db, settings, clock, month, paused=False)


# --- send now, resume a stopped send ----------------------------------------------------------


def _send_page(
    request: Request,
    db: Session,
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    kind: SendRequestKind,
    error: str | None = None,
) -> HTMLResponse:
    state = load_state(db, settings)
    bulletin = _require(_bulletin(db, month))
    assert bulletin.id is not None
    progress = send_progress(db, bulletin, now=clock.now())
    refusal = request_refusal(bulletin, kind, state.plan, sender_running=progress.running)
    early = (
        bulletin.send_at is not None
        and bulletin.send_at > clock.now()
        and bulletin.status in (BulletinStatus.approved, BulletinStatus.scheduled)
    )
    return render(
        request,
        "staff/bulletins/send.html",
        status_code=400 if error else 200,
        month=month,
        month_label=month_name(month),
        bulletin=bulletin,
        kind=kind.value,
        refusal=refusal,
        errors={"send": error} if error else {},
        early=early,
        recipients=recipients(db, settings, month),
        progress=progress,
        send_request=open_request(db, bulletin.id),
        scheduler=_scheduler(db, settings, clock),
    )


@router.get("/bulletins/{month}/send", response_class=HTMLResponse)
def send_confirm(
    request: Request,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """Check before sending now: who gets it, per agency, and whether it may be sent."""
    month = _month_or_404(month)
    return _send_page(request, db, settings, clock, month, kind=SendRequestKind.send)


@router.get("/bulletins/{month}/send/resume", response_class=HTMLResponse)
def send_resume_confirm(
    request: Request,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """Check before resuming a stopped send: who is still to get it."""
    month = _month_or_404(month)
    return _send_page(request, db, settings, clock, month, kind=SendRequestKind.resume)


def _ask_for_send(
    request: Request,
    staff: Staff,
    user: User,
    db: Session,
    settings: Settings,
    clock: Clock,
    month: str,
    *,
    kind: SendRequestKind,
) -> Response:
    state = load_state(db, settings)
    bulletin = _require(_bulletin(db, month))
    assert bulletin.id is not None
    existing = open_request(db, bulletin.id)
    if existing is None:
        progress = send_progress(db, bulletin, now=clock.now())
        refusal = request_refusal(bulletin, kind, state.plan, sender_running=progress.running)
        if refusal is not None:
            return _send_page(
                request,
                db,
                settings,
                clock,
                month,
                kind=kind,
                error=f"{month_name(month)} may not be sent: {refusal}",
            )
    made, created = request_send(db, bulletin, by=user.email, kind=kind, now=clock.now())
    if created:
        record(
            db,
            actor=user,
            action="bulletin.send_now" if kind is SendRequestKind.send else "bulletin.resume_send",
            object=f"bulletin:{month}",
            detail=f"request {made.id}",
        )
        flash(
            staff,
            f"Recorded: the scheduler sends {month_name(month)} at its next check"
            if kind is SendRequestKind.send
            else f"Recorded: the scheduler resumes {month_name(month)}'s send at its next check",
        )
    else:
        flash(
            staff,
            f"{made.requested_by} already asked for this at "
            f"{format_when(made.requested_at, settings.zone)}: nothing more was recorded",
        )
    db.commit()
    return see_other(f"/admin/bulletins/{month}/progress")


@router.post("/bulletins/{month}/send", response_class=HTMLResponse)
def send_now(
    request: Request,
    staff: CurrentStaff,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Ask the leading scheduler to send the month now (once, however often it is asked)."""
    month = _month_or_404(month)
    return _ask_for_send(
        request, staff, user, db, settings, clock, month, kind=SendRequestKind.send
    )


@router.post("/bulletins/{month}/send/resume", response_class=HTMLResponse)
def send_resume(
    request: Request,
    staff: CurrentStaff,
    user: Sender,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Ask the leading scheduler to resume a send a person stopped (or one that failed)."""
    month = _month_or_404(month)
    return _ask_for_send(
        request, staff, user, db, settings, clock, month, kind=SendRequestKind.resume
    )


@router.post("/bulletins/{month}/send/withdraw", response_class=HTMLResponse)
def send_withdraw(
    staff: CurrentStaff,
    user: Sender,
    db: SessionDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Withdraw a request the scheduler has not started yet."""
    bulletin = _require(_bulletin(db, _month_or_404(month)))
    assert bulletin.id is not None
    withdrawn = withdraw_request(db, bulletin.id, now=clock.now())
    if withdrawn is None:
        flash(
            staff, "There was no request waiting to be withdrawn: the scheduler may have started it"
        )
    else:
        record(
            db,
            actor=user,
            action="bulletin.withdraw_send",
            object=f"bulletin:{month}",
            detail=f"request {withdrawn.id} by {withdrawn.requested_by}",
        )
        flash(staff, "Request withdrawn: nothing will be sent because of it")
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


# --- watching a send --------------------------------------------------------------------------


def _eta(progress: SendProgress, now: datetime, settings: Settings) -> str:
    left = progress.minutes_left
    if progress.to_send == 0:
        return "nothing left to send"
    if left is None:
        return "not known yet: nothing was sent in the last minute"
    if left < 1:
        return "less than a minute"
    finish = format_when(now + timedelta(minutes=left), settings.zone)
    minutes = round(left)
    return f"about {minutes} minute{'s' if minutes != 1 else ''} (around {finish})"


def _where(progress: SendProgress, settings: Settings) -> str:
    run = progress.run
    if run is None:
        return "It has not started yet."
    who = run.started_by or "a process"
    where = f"process {run.pid} ({run.program}) on {run.host}"
    since = format_when(run.started_at, settings.zone)
    if progress.running:
        return f"Sending in {who}: {where}, since {since}."
    if run.ended_at is None:
        return (
            f"Last sent by {who}: {where}, from {since}. That process is gone (it stopped or "
            "died) and nothing is sending now."
        )
    return f"Last sent by {who}: {where}, {since} to {format_when(run.ended_at, settings.zone)}."


def _request_json(request: SendRequest | None, settings: Settings) -> dict[str, Any] | None:
    if request is None:
        return None
    return {
        "kind": request.kind,
        "state": request.state,
        "by": request.requested_by,
        "at": format_when(request.requested_at, settings.zone),
        "carried_by": request.carried_by,
        "outcome": request.outcome,
    }


def progress_figures(
    db: Session, settings: Settings, clock: Clock, bulletin: Bulletin
) -> dict[str, Any]:
    """The figures the progress page shows, and its script fetches as JSON."""
    assert bulletin.id is not None
    now = clock.now()
    progress = send_progress(db, bulletin, now=now)
    names = _agency_names(db)
    order = list(names)
    agencies = []
    for slug in sorted(progress.by_agency, key=lambda s: (order.index(s) if s in order else 99, s)):
        c = progress.by_agency[slug]
        agencies.append(
            {
                "agency": slug,
                "name": names.get(slug, slug),
                "sent": c.sent,
                "failed": c.failed,
                "unknown": c.unknown,
                "skipped": c.skipped,
                "to_send": c.pending,
            }
        )
    t = progress.totals
    request = open_request(db, bulletin.id)
    finished = bulletin.status in (
        BulletinStatus.sent,
        BulletinStatus.failed,
        BulletinStatus.stopped,
    )
    return {
        "month": bulletin.month,
        "status": str(bulletin.status),
        "percent": progress.percent,
        "totals": {
            "sent": t.sent,
            "failed": t.failed,
            "unknown": t.unknown,
            "skipped": t.skipped,
            "to_send": t.pending,
        },
        "agencies": agencies,
        "per_minute": round(progress.per_minute),
        "sent_last_minute": progress.sent_last_minute,
        "time_left": _eta(progress, now, settings),
        "where": _where(progress, settings),
        "running": progress.running,
        "request": _request_json(request, settings),
        "finished": finished and request is None,
        "at": format_when(now, settings.zone),
    }


@router.get("/bulletins/{month}/progress", response_class=HTMLResponse)
def progress_page(
    request: Request,
    staff: CurrentStaff,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> HTMLResponse:
    """The send as it goes: per agency, rate, time to finish, where it runs; then outcomes."""
    bulletin = _require(_bulletin(db, _month_or_404(month)))
    assert bulletin.id is not None
    figures = progress_figures(db, settings, clock, bulletin)
    send_request = open_request(db, bulletin.id)
    last = last_request(db, bulletin.id)
    return render(
        request,
        "staff/bulletins/progress.html",
        month=month,
        month_label=month_name(month),
        bulletin=bulletin,
        figures=figures,
        send_request=send_request,
        last_send_request=last if last is not None and last.closed_at is not None else None,
        scheduler=_scheduler(db, settings, clock) if send_request is not None else None,
        outcomes=bulletin_headline(db, bulletin).reach
        if bulletin.status in (BulletinStatus.sent, BulletinStatus.failed, BulletinStatus.stopped)
        else None,
        may_stop=bulletin.status == BulletinStatus.sending,
        may_resume=bulletin.status in RESUMABLE
        or (bulletin.status == BulletinStatus.sending and not figures["running"]),
        poll_seconds=POLL_SECONDS,
    )


@router.get("/bulletins/{month}/progress.json", response_model=None)
def progress_json(
    staff: CurrentStaff, db: SessionDep, settings: SettingsDep, clock: ClockDep, month: str
) -> JSONResponse:
    """The progress page's figures, for its script (polled every couple of seconds)."""
    bulletin = _require(_bulletin(db, _month_or_404(month)))
    return JSONResponse(
        progress_figures(db, settings, clock, bulletin), headers={"Cache-Control": "no-store"}
    )
