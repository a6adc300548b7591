"""``GET /``: the start page: who we are, the sent bulletins, and where staff sign in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from newsletter.models import Bulletin
from newsletter.web.archive import published
from newsletter.web.deps import SessionDep
from newsletter.web.pages import render_page

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def landing(request: Request, session: SessionDep) -> HTMLResponse:
    """The start page, with the latest sent bulletin when there is one."""
    latest = session.exec(
        select(Bulletin).where(published()).order_by(col(Bulletin.month).desc())
    ).first()
    return render_page(request, "landing.html", latest=latest)
