"""The bulletin pages: one month's bulletin reviewed, checked, proofed and approved.

* ``/admin/bulletins``: every bulletin with its status.
* ``/admin/bulletins/{month}``: status and the one next step; each agency's variant previewed
  in a sandboxed frame at 600 and 375 px, its text part, how the inbox shows it; the QA checks
  with a plain fix for each failure; the link list; the review history (rejections with their
  comment). Forms: build, link check, proofs, ask for approval, approve, reject.
* ``/admin/bulletins/{month}/variants/{agency}``: the variant's HTML as a subscriber receives
  it (sample values), served for the frame only: no script, nothing from elsewhere.

The rules live below the web layer: approval and four eyes in :mod:`newsletter.assemble`,
proofs in :func:`newsletter.dispatch.send_test_copies`, the link check in
:func:`newsletter.assemble.check_targets`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from newsletter.accounts import approvers
from newsletter.activity import record
from newsletter.assemble import (
    ApprovalRefused,
    BuildError,
    LinkStatus,
    ReviewRefused,
    approval_out_of_date,
    approve_bulletin,
    ask_for_approval,
    build_bulletin,
    built_from,
    bulletin_targets,
    check_targets,
    may_approve,
    reject_bulletin,
    reviews,
)
from newsletter.config import Settings
from newsletter.dispatch import DispatchError, send_test_copies, stop_send
from newsletter.models import Agency, Bulletin, BulletinStatus, Link, User, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.plan import is_key
from newsletter.schedule import OPEN, RESUMABLE, Notifier, last_request, open_request
from newsletter.transports import Outcome, TransportError, make_transport
from newsletter.urls import new_proof_token
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.staff.auth import CurrentStaff, Staff, StaffUser, require, staff_router
from newsletter.web.staff.plan import load_state, month_name, status_of
from newsletter.web.staff.render import flash, render, see_other
from newsletter.web.staff.themes import PREHEADER_SHOWN, SUBJECT_SHOWN

log = logging.getLogger(__name__)

router = staff_router()
Editor = Annotated[User, Depends(require("editor"))]
Approver = Annotated[User, Depends(require("approver"))]
Reviewer = Annotated[User, Depends(require("editor", "approver"))]

PREVIEW_SUBSCRIBER = "preview"
PREVIEW_NAME = "Sam Sample"
MAX_PROOF_ADDRESSES = 20

# The frame's own policy: the bulletin's inline styles and our images, no script, no forms,
# framed by our pages only. The iframe's sandbox attribute says the same to the browser.
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)

# A plain fix for each QA check that can fail, in the words of the person who can fix it.
FIXES = {
    "contrast": "Choose darker text or a lighter background colour in the template settings, "
    "then rebuild.",
    "size": "Gmail clips messages over 102 KB: shorten the month's sections or move long "
    "text behind a link, then rebuild.",
    "alt-text": 'Give each image a short description of what it shows (or alt="" when it is '
    "decoration) in the template, then rebuild.",
    "link-text": 'Rewrite the link so it names where it goes ("Book the Safer Sleep course", '
    'not "click here") in the plan, then rebuild.',
    "absolute-links": "Give every link a full address starting https:// in the plan, then rebuild.",
    "text-part": "The plain-text part is empty: check the template's text version, then rebuild.",
    "unsubscribe": "Put the unsubscribe link back in the template's footer (HTML and text), "
    "then rebuild.",
}


def _month_or_404(month: str) -> str:
    """The bulletin's issue key (a month, or an extra edition of one); 404 for anything else."""
    if not is_key(month):
        raise HTTPException(status_code=404)
    return month


def _bulletin(db: Session, month: str) -> Bulletin | None:
    return db.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()


def _page_url(settings: Settings, month: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/admin/bulletins/{month}"


def _variants(db: Session, bulletin: Bulletin) -> list[tuple[Variant, str]]:
    rows = db.exec(
        select(Variant, Agency.name)
        .join(Agency, col(Agency.slug) == col(Variant.agency))
        .where(col(Variant.bulletin_id) == bulletin.id)
        .order_by(col(Agency.position), col(Agency.slug))
    ).all()
    return [(variant, name) for variant, name in rows]


def _sample_values(
    settings: Settings, bulletin: Bulletin, agency: str, *, now: datetime
) -> dict[str, str]:
    """Sample values for a preview. Its links and pixel carry a proof token, so a member of
    staff looking at the page is never counted as an open or a click (an agency token would
    count as a reader of the archive)."""
    assert bulletin.id is not None
    return {
        TOKEN: new_proof_token(settings, bulletin_id=bulletin.id, agency=agency, now=now),
        SUBSCRIBER: PREVIEW_SUBSCRIBER,
        NAME: PREVIEW_NAME,
    }


@dataclass(frozen=True)
class NextStep:
    text: str
    who: str  # "editor", "approver", "anyone" or "" (nothing to do)


def next_step(
    bulletin: Bulletin | None, status: str, *, asked: bool, out_of_date: list[str]
) -> NextStep:
    """The one thing to do next about this month, in words."""
    if bulletin is None:
        return NextStep("Build the draft from the plan, then check it.", "editor")
    if status == "out of date" or out_of_date:
        return NextStep(
            "The plan changed after this was built: rebuild the draft and ask for approval again.",
            "editor",
        )
    if status == "draft":
        return NextStep("Fix the failing checks below, then rebuild the draft.", "editor")
    if status == "missed" and bulletin.approved_at is not None and not out_of_date:
        return NextStep("It was missed: send it now if it should still go out.", "editor")
    if status in ("awaiting approval", "missed") and not asked:
        return NextStep(
            "Check the previews and links, send yourself a proof, then ask for approval.",
            "editor",
        )
    if status in ("awaiting approval", "missed"):
        return NextStep("Approve it, or reject it with a comment for the editors.", "approver")
    if status == "paused":
        return NextStep("The send is paused: resume it to send at its time.", "editor")
    if status == "approved":
        return NextStep(
            "Nothing: it goes out at its send time (change the time, pause it or send it now "
            "below).",
            "",
        )
    if status == "sending":
        return NextStep("It is sending: watch its progress.", "anyone")
    if status == "stopped":
        return NextStep(
            "A person stopped the send; nothing resumes it but a person: resume it below when "
            "it should go on.",
            "editor",
        )
    if status == "failed":
        return NextStep("The send failed part-way: see why, then resume it.", "editor")
    if status == "sent":
        return NextStep("Nothing: it was sent. See its report.", "")
    return NextStep("Nothing.", "")


def _page(
    request: Request,
    staff: Staff,
    db: Session,
    settings: Settings,
    month: str,
    *,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    state = load_state(db, settings)
    bulletin = _bulletin(db, month)
    theme = state.plan.themes.get(month) if state.plan is not None else None
    status = status_of(bulletin, state.plan)
    history = reviews(db, month)
    last = history[-1] if history else None
    asked = last is not None and last.action == "asked"
    out_of_date = approval_out_of_date(db, bulletin) if bulletin is not None else []
    variants = _variants(db, bulletin) if bulletin is not None else []
    wanted = request.query_params.get("agency")
    shown = next((pair for pair in variants if pair[0].agency == wanted), None) or (
        variants[0] if variants else None
    )
    links: list[Link] = []
    if bulletin is not None:
        links = list(
            db.exec(
                select(Link)
                .where(col(Link.bulletin_id) == bulletin.id)
                .order_by(col(Link.position))
            )
        )
    checks = []
    for check in bulletin.checks if bulletin is not None else []:
        checks.append({**check, "fix": "" if check.get("passed") else FIXES.get(check["name"], "")})
    blockers: list[str] = []
    if bulletin is not None and staff.has("approver"):
        blockers = may_approve(db, settings, month, staff.user.email)
    return render(
        request,
        "staff/bulletins/show.html",
        status_code=status_code,
        month=month,
        month_label=month_name(month),
        bulletin=bulletin,
        theme=theme,
        status=status,
        step=next_step(bulletin, status, asked=asked, out_of_date=out_of_date),
        asked=asked,
        asked_before=any(r.action == "asked" for r in history),
        out_of_date=out_of_date,
        revision=built_from(db, bulletin) if bulletin is not None else None,
        variants=variants,
        shown=shown,
        links=links,
        checks=checks,
        history=history,
        last_rejection=last if last is not None and last.action == "rejected" else None,
        approve_blockers=blockers,
        from_name=settings.from_address.split("<")[0].strip() or settings.from_address,
        subject_shown=SUBJECT_SHOWN,
        preheader_shown=PREHEADER_SHOWN,
        four_eyes=settings.four_eyes,
        errors=extra.pop("errors", {}),
        link_check=extra.pop("link_check", None),
        comment=extra.pop("comment", ""),
        **_sending_context(db, bulletin),
        **extra,
    )


def _sending_context(db: Session, bulletin: Bulletin | None) -> dict[str, Any]:
    """What the page's "Sending" part needs: the open "send now" request, what may be done.
    The pages that do it are in :mod:`.sending`."""
    if bulletin is None or bulletin.id is None:
        return {"send_request": None, "last_send_request": None}
    last = last_request(db, bulletin.id)
    status = BulletinStatus(bulletin.status)
    return {
        "send_request": open_request(db, bulletin.id),
        "last_send_request": last if last is not None and last.closed_at is not None else None,
        "may_move": status in OPEN,
        "may_send_now": status
        in (BulletinStatus.approved, BulletinStatus.scheduled, BulletinStatus.missed),
        "may_resume": status in RESUMABLE,
        "watchable": status
        in (
            BulletinStatus.sending,
            BulletinStatus.sent,
            BulletinStatus.failed,
            BulletinStatus.stopped,
        ),
    }


@router.get("/bulletins", response_class=HTMLResponse)
def bulletin_list(request: Request, staff: CurrentStaff, db: SessionDep) -> HTMLResponse:
    """Every bulletin, newest month first."""
    bulletins = db.exec(select(Bulletin).order_by(col(Bulletin.month).desc())).all()
    return render(request, "staff/bulletins/index.html", bulletins=bulletins)


@router.get("/bulletins/{month}", response_class=HTMLResponse)
def bulletin_page(
    request: Request, staff: CurrentStaff, db: SessionDep, settings: SettingsDep, month: str
) -> HTMLResponse:
    """One month's bulletin: review, checks, proofs, approval."""
    return _page(request, staff, db, settings, _month_or_404(month))


@router.get("/bulletins/{month}/variants/{agency}", response_class=Response)
def variant_preview(
    user: StaffUser,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
    agency: str,
) -> Response:
    """The variant's HTML with sample values, for the page's sandboxed frame."""
    bulletin = _bulletin(db, _month_or_404(month))
    if bulletin is None:
        raise HTTPException(status_code=404)
    variant = db.exec(
        select(Variant).where(
            col(Variant.bulletin_id) == bulletin.id, col(Variant.agency) == agency
        )
    ).first()
    if variant is None:
        raise HTTPException(status_code=404)
    body = personalise(
        variant.html, html_values(_sample_values(settings, bulletin, agency, now=clock.now()))
    )
    return HTMLResponse(
        body, headers={"Content-Security-Policy": PREVIEW_CSP, "Cache-Control": "no-store"}
    )


@router.post("/bulletins/{month}/build", response_class=HTMLResponse)
def build(
    request: Request,
    staff: CurrentStaff,
    user: Editor,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Build (or rebuild) the month's draft from the current plan."""
    _month_or_404(month)
    state = load_state(db, settings)
    if state.plan is None:
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={"build": "The plan has errors: fix them in the plan pages first."},
        )
    try:
        result = build_bulletin(db, settings, state.plan, month, clock=clock)
    except BuildError as exc:
        db.rollback()
        return _page(
            request, staff, db, settings, month, status_code=400, errors={"build": str(exc)}
        )
    passed = result.bulletin.checks_passed
    record(
        db,
        actor=user,
        action="bulletin.build",
        object=f"bulletin:{month}",
        detail=f"{len(result.variants)} variants, checks {'passed' if passed else 'failed'}",
    )
    flash(
        staff,
        f"{month_name(month)} built: {len(result.variants)} variants, "
        + ("every check passed" if passed else "some checks failed"),
    )
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


@router.post("/bulletins/{month}/check-links", response_class=HTMLResponse)
async def check_links(
    request: Request,
    staff: CurrentStaff,
    user: Reviewer,
    db: SessionDep,
    settings: SettingsDep,
    month: str,
) -> HTMLResponse:
    """Fetch every link target of the bulletin (off the event loop) and show what needs fixing."""
    bulletin = _bulletin(db, _month_or_404(month))
    if bulletin is None or bulletin.id is None:
        raise HTTPException(status_code=404)
    links = bulletin_targets(db, bulletin.id)
    targets = list(dict.fromkeys(link.url for link in links))
    outcomes = await run_in_threadpool(
        check_targets,
        targets,
        allow_private=settings.linkcheck_allow_private,
        timeout=settings.linkcheck_timeout,
    )
    where: dict[str, Link] = {}
    for link in links:
        where.setdefault(link.url, link)
    problems = [
        {"outcome": o, "link": where[o.url]}
        for o in sorted(outcomes, key=lambda o: (not o.broken, o.url))
        if o.status is not LinkStatus.ok
    ]
    broken = sum(o.broken for o in outcomes)
    slow = sum(o.status is LinkStatus.slow for o in outcomes)
    record(
        db,
        actor=user,
        action="bulletin.check_links",
        object=f"bulletin:{month}",
        detail=f"{len(outcomes)} targets: {broken} broken, {slow} slow",
    )
    db.commit()
    return _page(
        request,
        staff,
        db,
        settings,
        month,
        link_check={"total": len(outcomes), "broken": broken, "slow": slow, "problems": problems},
    )


def _proof_addresses(raw: str) -> tuple[list[str], str | None]:
    addresses: list[str] = []
    for part in re.split(r"[\s,;]+", raw.strip()):
        if not part:
            continue
        try:
            addresses.append(validate_email(part, check_deliverability=False).normalized)
        except EmailNotValidError:
            return [], f"{part} is not an email address"
    if not addresses:
        return [], "Enter at least one email address"
    if len(addresses) > MAX_PROOF_ADDRESSES:
        return [], f"Send proofs to at most {MAX_PROOF_ADDRESSES} addresses at a time"
    return list(dict.fromkeys(addresses)), None


@router.post("/bulletins/{month}/proof", response_class=HTMLResponse)
def proof(
    request: Request,
    staff: CurrentStaff,
    user: Reviewer,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
    to: Annotated[str, Form()] = "me",
    addresses: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
) -> Response:
    """Proof copies (never counted) to me or to a list of addresses, one agency or all."""
    _month_or_404(month)
    if to == "me":
        recipients, problem = [user.email], None
    else:
        recipients, problem = _proof_addresses(addresses)
    if problem is not None:
        return _page(
            request, staff, db, settings, month, status_code=400, errors={"addresses": problem}
        )
    transport = make_transport(settings)
    sent = failed = 0
    try:
        for address in recipients:
            results = send_test_copies(
                db,
                settings,
                month,
                to=address,
                transport=transport,
                now=clock.now(),
                agencies=[agency] if agency else None,
            )
            sent += sum(1 for c in results if c.result.outcome is not Outcome.failed)
            failed += sum(1 for c in results if c.result.outcome is Outcome.failed)
    except (DispatchError, TransportError) as exc:
        db.rollback()
        return _page(
            request, staff, db, settings, month, status_code=400, errors={"proof": str(exc)}
        )
    finally:
        transport.close()
    which = agency or "every agency"
    record(
        db,
        actor=user,
        action="bulletin.proof",
        object=f"bulletin:{month}",
        detail=f"{sent} proof(s) of {which} to {', '.join(recipients)}; {failed} failed",
    )
    flash(
        staff,
        f"{sent} proof cop{'y' if sent == 1 else 'ies'} sent to {', '.join(recipients)}"
        + (f"; {failed} could not be sent" if failed else ""),
    )
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


def _approval_email(settings: Settings, month: str, asked_by: str) -> tuple[str, str]:
    url = _page_url(settings, month)
    subject = f"Please review the {month_name(month)} bulletin"
    text = (
        f"{asked_by} asks you to review the {month_name(month)} bulletin of the "
        f"{settings.partnership_name} partnership.\n\n"
        f"Open it, check each agency's version, then approve it or reject it with a comment:\n\n"
        f"    {url}\n\n"
        "Somebody who changed this month's plan since its last approval cannot approve it.\n"
    )
    return subject, text


def notify_approvers(db: Session, settings: Settings, subject: str, text: str) -> int:
    """Email ``text`` to every approver; how many it reached (0 when nobody holds the role)."""
    notifier = Notifier(
        settings,
        transport_factory=make_transport,
        recipients=lambda: approvers(db, settings.approvers),
    )
    reached: int = notifier.notify(subject, text)
    return reached


@router.post("/bulletins/{month}/ask", response_class=HTMLResponse)
def ask(
    request: Request,
    staff: CurrentStaff,
    user: Editor,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Ask every approver, by email with a link to this page, to approve the month."""
    _month_or_404(month)
    try:
        ask_for_approval(db, month, by=user.email, clock=clock)
    except ReviewRefused as exc:
        db.rollback()
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={"ask": "; ".join(exc.reasons)},
        )
    subject, text = _approval_email(settings, month, user.email)
    try:
        reached = notify_approvers(db, settings, subject, text)
    except TransportError as exc:
        db.rollback()
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={"ask": f"The approvers could not be emailed: {exc}. Nothing was recorded."},
        )
    record(
        db,
        actor=user,
        action="bulletin.ask_approval",
        object=f"bulletin:{month}",
        detail=f"emailed {reached} approver(s)",
    )
    flash(
        staff,
        f"Asked {reached} approver{'s' if reached != 1 else ''} to review {month_name(month)}"
        if reached
        else "Recorded, but nobody holds the approver role: ask an admin to give someone it",
    )
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


@router.post("/bulletins/{month}/approve", response_class=HTMLResponse)
def approve(
    request: Request,
    staff: CurrentStaff,
    user: Approver,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Approve the month for sending (the approver role, four eyes)."""
    _month_or_404(month)
    state = load_state(db, settings)
    if state.plan is None:
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={
                "approve": "The plan has errors, so the bulletin cannot be checked against it."
            },
        )
    reasons = may_approve(db, settings, month, user.email)
    try:
        if reasons:
            raise ApprovalRefused(reasons)
        approve_bulletin(db, settings, state.plan, month, by=user.email, clock=clock)
    except ApprovalRefused as exc:
        db.rollback()
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={"approve": "; ".join(exc.reasons)},
        )
    record(db, actor=user, action="bulletin.approve", object=f"bulletin:{month}")
    flash(staff, f"{month_name(month)} approved")
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


@router.post("/bulletins/{month}/reject", response_class=HTMLResponse)
def reject(
    request: Request,
    staff: CurrentStaff,
    user: Approver,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Send the month back to the editors with a comment they see on this page."""
    _month_or_404(month)
    try:
        reject_bulletin(db, settings, month, by=user.email, comment=comment, clock=clock)
    except ReviewRefused as exc:
        db.rollback()
        return _page(
            request,
            staff,
            db,
            settings,
            month,
            status_code=400,
            errors={"comment": "; ".join(exc.reasons)},
            comment=comment,
        )
    record(
        db,
        actor=user,
        action="bulletin.reject",
        object=f"bulletin:{month}",
        detail=comment.strip()[:900],
    )
    flash(staff, f"{month_name(month)} sent back to the editors with your comment")
    db.commit()
    return see_other(f"/admin/bulletins/{month}")


@router.post("/bulletins/{month}/stop", response_class=HTMLResponse)
def stop(
    request: Request,
    staff: CurrentStaff,
    user: Reviewer,
    db: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    month: str,
) -> Response:
    """Stop the send after its batch in flight, whichever process sends it; it stays stopped
    until a person resumes it."""
    _month_or_404(month)
    try:
        stop_send(db, month, clock=clock)
    except DispatchError as exc:
        db.rollback()
        return _page(
            request, staff, db, settings, month, status_code=400, errors={"stop": str(exc)}
        )
    record(db, actor=user, action="bulletin.stop", object=f"bulletin:{month}")
    flash(staff, f"{month_name(month)} will stop after the batch in flight")
    db.commit()
    return see_other(f"/admin/bulletins/{month}/progress")
