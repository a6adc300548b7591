"""GET/HEAD /c/{token}/{link_id} (click redirect) and GET/HEAD /o/{token}.gif (open pixel).

The redirect target comes from the link registry only (see :mod:`newsletter.tracking.tracker`);
anything forged, altered or mismatched answers 404 and records nothing. A request is answered
after its event is committed by the recorder's shared group commit; the pixel is served even
when recording (or the database) fails, and a click still redirects when only recording fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from newsletter.models import LinkKind
from newsletter.tracking import EventRecord, Tracker
from newsletter.tracking import Request as Hit
from newsletter.tracking.tracker import MISS, ClickTarget, Reader
from newsletter.web.pages import render_page

log = logging.getLogger(__name__)

# The smallest transparent GIF (1x1, 43 bytes).
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_CACHE = {
    "Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
    "Pragma": "no-cache",
    "Expires": "0",
    "Referrer-Policy": "no-referrer",
}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    tracker: Tracker | None = getattr(app.state, "tracker", None)
    if tracker is not None:
        # Flush every event still waiting for the group commit before the process exits.
        await run_in_threadpool(tracker.close)


router = APIRouter(lifespan=_lifespan)


def tracker_for(request: Request) -> Tracker:
    """The app's tracker, created on first use (handlers run on the event loop: no race)."""
    state = request.app.state
    tracker: Tracker | None = getattr(state, "tracker", None)
    if tracker is None:
        tracker = Tracker(state.settings, state.engine)
        state.tracker = tracker
    return tracker


def _hit(request: Request) -> Hit:
    return Hit(
        method=request.method,
        user_agent=request.headers.get("user-agent"),
        client_ip=request.client.host if request.client else None,
        now=request.app.state.clock.now(),
    )


async def _save(tracker: Tracker, record: EventRecord | None) -> None:
    """Wait for the record's group commit; a failure is logged, never shown to the reader."""
    if record is None:
        return
    try:
        await asyncio.wrap_future(tracker.recorder.submit(record))
    except Exception as exc:
        log.error("a %s event was not recorded: %s", record.type, exc)


def _not_found(request: Request) -> Response:
    return render_page(request, "tracking_not_found.html", status_code=404)


@router.api_route(
    "/c/{token}/{link_id}", methods=["GET", "HEAD", "OPTIONS"], include_in_schema=False
)
async def click(request: Request, token: str, link_id: str) -> Response:
    """Record a click and redirect to the registered link with its UTM parameters."""
    tracker = tracker_for(request)
    target: Any
    try:
        target = tracker.resolve_click(token, link_id, cached=True)
        if target is MISS:
            target = await run_in_threadpool(tracker.resolve_click, token, link_id)
    except Exception as exc:
        log.error("cannot resolve a click (database unavailable?): %s", exc)
        return render_page(request, "tracking_unavailable.html", status_code=503)
    if not isinstance(target, ClickTarget):
        return _not_found(request)
    await _save(tracker, tracker.click_record(target, _hit(request)))
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"Allow": "GET, HEAD, OPTIONS", **NO_CACHE})
    if target.link.kind == LinkKind.honeypot:
        # Nothing for a machine to follow; noindex in case a crawler got here.
        return Response(b"", headers={"X-Robots-Tag": "noindex", **NO_CACHE})
    if target.link.kind == LinkKind.feedback:
        return render_page(
            request,
            "tracking_thanks.html",
            month=target.link.month,
            useful=target.event_type == "feedback_yes",
        )
    return RedirectResponse(target.location, status_code=302, headers=NO_CACHE)


@router.api_route("/o/{token}.gif", methods=["GET", "HEAD"], include_in_schema=False)
async def pixel(request: Request, token: str) -> Response:
    """Record an open and serve a 1x1 GIF (even when recording fails)."""
    tracker = tracker_for(request)
    reader: Any
    try:
        reader = tracker.resolve_reader(token, cached=True)
        if reader is MISS:
            reader = await run_in_threadpool(tracker.resolve_reader, token)
    except Exception as exc:
        log.error("cannot record an open (database unavailable?): %s", exc)
        reader = MISS  # unknown, but a reader may be waiting for the image: serve it
    if reader is None:
        return Response(status_code=404, headers=NO_CACHE)
    if isinstance(reader, Reader):
        await _save(tracker, tracker.open_record(reader, _hit(request)))
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)
