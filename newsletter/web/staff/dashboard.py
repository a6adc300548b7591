"""The staff home page: the bulletins, their status, and links to their reports."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from newsletter.models import Bulletin
from newsletter.reports import ALL_KINDS
from newsletter.web.deps import SessionDep
from newsletter.web.staff.auth import CurrentStaff, staff_router
from newsletter.web.staff.render import render

router = staff_router()


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, staff: CurrentStaff, db: SessionDep) -> HTMLResponse:
    """The dashboard: every bulletin by month, newest first."""
    bulletins = db.exec(select(Bulletin).order_by(col(Bulletin.month).desc())).all()
    return render(request, "staff/dashboard.html", bulletins=bulletins, kinds=ALL_KINDS)
