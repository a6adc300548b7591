"""The activity log page: newest first, filtered by person, action, object and dates."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from newsletter.models import ActivityEntry, User
from newsletter.web.deps import SessionDep, SettingsDep
from newsletter.web.staff.auth import require, staff_router
from newsletter.web.staff.render import render

router = staff_router()
PAGE_SIZE = 50
_DATE = r"^(\d{4}-\d{2}-\d{2})?$"


@router.get("/activity", response_class=HTMLResponse)
def activity(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    _: Annotated[User, Depends(require("admin"))],
    actor: Annotated[str, Query(max_length=320)] = "",
    action: Annotated[str, Query(max_length=60)] = "",
    object: Annotated[str, Query(max_length=320)] = "",
    since: Annotated[str, Query(alias="from", pattern=_DATE)] = "",
    until: Annotated[str, Query(alias="to", pattern=_DATE)] = "",
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Who did what, when: filter by person, action, object (any part) and date range."""
    stmt = select(ActivityEntry)
    if actor.strip():
        stmt = stmt.where(col(ActivityEntry.actor).contains(actor.strip().lower()))
    if action.strip():
        stmt = stmt.where(col(ActivityEntry.action) == action.strip())
    if object.strip():
        stmt = stmt.where(col(ActivityEntry.object).contains(object.strip()))
    zone = settings.zone
    if since:
        start = datetime.combine(datetime.strptime(since, "%Y-%m-%d").date(), time(0), zone)
        stmt = stmt.where(col(ActivityEntry.at) >= start)
    if until:
        end = datetime.combine(datetime.strptime(until, "%Y-%m-%d").date(), time(0), zone)
        stmt = stmt.where(col(ActivityEntry.at) < end + timedelta(days=1))
    if before is not None:
        stmt = stmt.where(col(ActivityEntry.id) < before)
    rows = db.exec(stmt.order_by(col(ActivityEntry.id).desc()).limit(PAGE_SIZE + 1)).all()
    entries = rows[:PAGE_SIZE]
    actions = db.exec(
        select(ActivityEntry.action).distinct().order_by(col(ActivityEntry.action))
    ).all()
    filters = {"actor": actor, "action": action, "object": object, "from": since, "to": until}
    older = None
    if len(rows) > PAGE_SIZE and entries[-1].id is not None:
        kept: dict[str, str | int] = {k: v for k, v in filters.items() if v}
        older = "/admin/activity?" + urlencode({**kept, "before": entries[-1].id})
    return render(
        request,
        "staff/activity.html",
        entries=entries,
        actions=actions,
        filters=filters,
        older=older,
    )
