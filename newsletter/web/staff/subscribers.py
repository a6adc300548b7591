"""Subscribers, for admins: search people, a person's page (everything held, as JSON for a
subject access request), unsubscribe, erase with confirmation.

Every change goes through :mod:`newsletter.subscribers` (the CLI's rules) and is written to
the activity log.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from newsletter.activity import record
from newsletter.models import Agency, EventSource, Subscriber, SubscriberStatus
from newsletter.subscribers import (
    LIST_STATUSES,
    audiences_text,
    erase,
    subject_access,
    unsubscribe,
)
from newsletter.web.deps import ClockDep, SessionDep
from newsletter.web.staff.auth import CurrentStaff, require, staff_router
from newsletter.web.staff.render import flash, render, see_other

router = staff_router(dependencies=[Depends(require("admin"))])

PAGE = 50


def _person(db: Session, subscriber_id: int) -> Subscriber:
    subscriber = db.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status == SubscriberStatus.erased:
        raise HTTPException(status_code=404, detail="No such subscriber")
    return subscriber


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@router.get("/subscribers", response_class=HTMLResponse)
def search(
    request: Request,
    db: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    agency: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Search people by email, name, agency and status."""
    agencies = db.exec(select(Agency).order_by(col(Agency.position))).all()
    query = select(Subscriber).where(col(Subscriber.status) != SubscriberStatus.erased)
    text = q.strip().lower()
    if text:
        pattern = f"%{_escape_like(text)}%"
        query = query.where(
            or_(
                col(Subscriber.email).like(pattern, escape="\\"),
                func.lower(col(Subscriber.name)).like(pattern, escape="\\"),
            )
        )
    if agency:
        query = query.where(col(Subscriber.agency) == agency)
    if status:
        query = query.where(col(Subscriber.status) == status)
    total = db.exec(select(func.count()).select_from(query.subquery())).one()
    people = db.exec(
        query.order_by(col(Subscriber.email)).offset((page - 1) * PAGE).limit(PAGE)
    ).all()
    return render(
        request,
        "staff/subscribers/index.html",
        people=people,
        total=total,
        page=page,
        pages=max(1, (total + PAGE - 1) // PAGE),
        q=q,
        agency=agency,
        status=status,
        agencies=agencies,
        names={a.slug: a.name for a in agencies},
        statuses=[s.value for s in LIST_STATUSES],
        audiences=audiences_text,
    )


def held_record(db: Session, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about one person, as plain data (the JSON download)."""
    held = subject_access(db, subscriber)
    s = held.subscriber
    return {
        "email": s.email,
        "name": s.name,
        "agency": s.agency,
        "audiences": audiences_text(s).split(";") if audiences_text(s) else [],
        "status": str(s.status),
        "status_changed_at": s.status_changed_at.isoformat() if s.status_changed_at else None,
        "source": s.source,
        "lawful_basis": s.lawful_basis,
        "consent": {
            "how": s.consent_source,
            "when": s.consent_at.isoformat() if s.consent_at else None,
            "wording_shown": s.consent_wording,
        },
        "created_at": s.created_at.isoformat(),
        "updated_at": s.updated_at.isoformat(),
        "suppressed": held.suppressed,
        "link_token": "a secret token for unsubscribe and preference links (not shown)",
        "bulletins": [
            {
                "month": d.month,
                "agency": d.agency,
                "status": d.status,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            }
            for d in held.deliveries
        ],
        "events": held.events,
    }


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def person(request: Request, subscriber_id: int, db: SessionDep) -> HTMLResponse:
    """Everything held about one person."""
    subscriber = _person(db, subscriber_id)
    agency = db.get(Agency, subscriber.agency)
    return render(
        request,
        "staff/subscribers/show.html",
        person=subscriber,
        held=held_record(db, subscriber),
        agency=agency.name if agency else subscriber.agency,
    )


@router.get("/subscribers/{subscriber_id}/data.json")
def person_json(subscriber_id: int, db: SessionDep, staff: CurrentStaff) -> Response:
    """Everything held about one person, as JSON (a subject access request)."""
    subscriber = _person(db, subscriber_id)
    body = json.dumps(held_record(db, subscriber), indent=2, ensure_ascii=False)
    record(
        db,
        actor=staff.user,
        action="subscriber.export",
        object=f"subscriber:{subscriber.id}",
        detail="everything held downloaded as JSON",
    )
    db.commit()
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="subscriber-{subscriber.id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/subscribers/{subscriber_id}/unsubscribe")
def unsubscribe_person(
    subscriber_id: int, db: SessionDep, staff: CurrentStaff, clock: ClockDep
) -> Response:
    """Unsubscribe a person at once (on a request by email or phone)."""
    subscriber = _person(db, subscriber_id)
    if unsubscribe(db, subscriber, now=clock.now(), source=EventSource.system):
        record(
            db,
            actor=staff.user,
            action="subscriber.unsubscribe",
            object=f"subscriber:{subscriber.id}",
        )
        flash(staff, f"{subscriber.email} is unsubscribed")
    else:
        flash(staff, f"{subscriber.email} was already {subscriber.status}: nothing changed")
    db.commit()
    return see_other(f"/admin/subscribers/{subscriber.id}")


@router.get("/subscribers/{subscriber_id}/erase", response_class=HTMLResponse)
def erase_form(request: Request, subscriber_id: int, db: SessionDep) -> HTMLResponse:
    """Ask before erasing: it cannot be undone."""
    return render(request, "staff/subscribers/erase.html", person=_person(db, subscriber_id))


@router.post("/subscribers/{subscriber_id}/erase")
def erase_person(
    subscriber_id: int, db: SessionDep, staff: CurrentStaff, clock: ClockDep
) -> Response:
    """Erase a person's data; the address is suppressed, agency-level history kept."""
    subscriber = _person(db, subscriber_id)
    shown = subscriber.email
    erase(db, subscriber, now=clock.now())
    record(db, actor=staff.user, action="subscriber.erase", object=f"subscriber:{subscriber.id}")
    flash(staff, f"{shown} erased: personal data removed, address suppressed")
    db.commit()
    return see_other("/admin/subscribers")
