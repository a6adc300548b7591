"""GET/HEAD /c/{token}/{link_id} (click redirect) and GET/HEAD /o/{token}.gif (open pixel).

These are the hottest paths of the service (every click of every reader, and every gateway
scan), so they are served by a plain ASGI middleware in front of FastAPI's routing and
dependency machinery, whose per-request cost would otherwise dominate (bench/tracking.py
measures the path against a bare ASGI redirect); everything else passes through untouched.

The redirect target comes from the link registry only (see :mod:`newsletter.tracking.tracker`);
anything forged, altered or mismatched answers 404 and records nothing. A request is answered
after its event is committed by the recorder's shared group commit; the pixel is served even
when recording (or the database) fails, and a click still redirects when only recording fails.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Receive, Scope, Send

from newsletter.models import EventType, LinkKind
from newsletter.tracking import (
    MISS,
    ClickTarget,
    EventRecord,
    Reader,
    StillWaiting,
    Tracker,
    Visit,
)
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
        app.state.tracker = None  # a restarted app gets a fresh one


# No routes: it carries the lifespan that flushes the recorder on shutdown.
router = APIRouter(lifespan=_lifespan)


def install(app: FastAPI) -> None:
    """Serve the click and pixel paths on ``app`` and flush their events on shutdown."""
    app.add_middleware(TrackingMiddleware)
    app.include_router(router)


def tracker_for(app: FastAPI) -> Tracker:
    """The app's tracker, created on first use (handlers run on the event loop: no race)."""
    tracker: Tracker | None = getattr(app.state, "tracker", None)
    if tracker is None:
        tracker = Tracker(app.state.settings, app.state.engine, clock=app.state.clock)
        app.state.tracker = tracker
    return tracker


_NO_CACHE_RAW = [(k.lower().encode(), v.encode()) for k, v in NO_CACHE.items()]
_GIF_HEADERS = [
    (b"content-type", b"image/gif"),
    (b"content-length", str(len(PIXEL)).encode()),
    *_NO_CACHE_RAW,
]
_EMPTY_HEADERS = [(b"content-length", b"0"), *_NO_CACHE_RAW]
# A redirect needs no HTTP/1.0 cache headers (a 302 is not cached without freshness headers);
# no-referrer keeps the token in our URL from reaching the course site in a Referer.
_REDIRECT_HEADERS = [
    (b"content-length", b"0"),
    (b"cache-control", NO_CACHE["Cache-Control"].encode()),
    (b"referrer-policy", b"no-referrer"),
]


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _visit(app: FastAPI, scope: Scope) -> Visit:
    agent: str | None = None
    for name, value in scope["headers"]:
        if name == b"user-agent":
            agent = value.decode("latin-1")
            break
    client = scope.get("client")
    return Visit(
        method=scope["method"],
        user_agent=agent,
        client_ip=client[0] if client else None,
        now=app.state.clock.now(),
    )


async def _save(tracker: Tracker, record: EventRecord | None) -> None:
    """Wait for the record's group commit; a failure is logged, never shown to the reader."""
    if record is None:
        return
    try:
        await tracker.recorder.record_async(record)
    except StillWaiting:
        log.warning(
            "a %s event is still waiting for the database; answered first",
            record.type,
            extra={"delivery_id": record.delivery_id, "bulletin_id": record.bulletin_id},
        )
    except Exception as exc:
        log.error(
            "a %s event was not recorded: %s",
            record.type,
            exc,
            extra={"delivery_id": record.delivery_id, "bulletin_id": record.bulletin_id},
        )


class TrackingMiddleware:
    """Answers /c/... and /o/... itself; passes every other request to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/c/"):
                await self.click(scope, receive, send)
                return
            if path.startswith("/o/"):
                await self.pixel(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _page(
        scope: Scope, receive: Receive, send: Send, name: str, status: int, **context: Any
    ) -> None:
        response = render_page(
            StarletteRequest(scope, receive), name, status_code=status, **context
        )
        await response(scope, receive, send)

    async def click(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record a click and redirect to the registered link with its UTM parameters."""
        app: FastAPI = scope["app"]
        method = scope["method"]
        parts = scope["path"].split("/")  # percent-decoded: an encoded '/' adds a part
        if len(parts) != 4 or not parts[2] or not parts[3]:
            await self._page(scope, receive, send, "tracking_not_found.html", 404)
            return
        if method not in ("GET", "HEAD", "OPTIONS"):
            await _respond(send, 405, [(b"allow", b"GET, HEAD, OPTIONS"), *_EMPTY_HEADERS])
            return
        token, link_id = parts[2], parts[3]
        tracker = tracker_for(app)
        target: Any
        try:
            target = tracker.resolve_click(token, link_id, cached=True)
            if target is MISS:
                target = await run_in_threadpool(tracker.resolve_click, token, link_id)
        except Exception as exc:
            log.error("cannot resolve a click (database unavailable?): %s", exc)
            await self._page(scope, receive, send, "tracking_unavailable.html", 503)
            return
        if not isinstance(target, ClickTarget):
            await self._page(scope, receive, send, "tracking_not_found.html", 404)
            return
        await _save(tracker, tracker.click_record(target, _visit(app, scope)))
        if method == "OPTIONS":
            await _respond(send, 204, [(b"allow", b"GET, HEAD, OPTIONS"), *_NO_CACHE_RAW])
        elif target.link.kind == LinkKind.honeypot:
            # Nothing for a machine to follow; noindex in case a crawler got here.
            await _respond(send, 200, [(b"x-robots-tag", b"noindex"), *_EMPTY_HEADERS])
        elif target.link.kind == LinkKind.feedback:
            useful = target.event_type == EventType.feedback_yes
            await self._page(
                scope, receive, send, "tracking_thanks.html", 200,
                month=target.link.month, useful=useful,
            )  # fmt: skip
        else:
            location = target.location.encode("latin-1")
            await _respond(send, 302, [(b"location", location), *_REDIRECT_HEADERS])

    async def pixel(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Record an open and serve a 1x1 GIF (even when recording fails)."""
        app: FastAPI = scope["app"]
        parts = scope["path"].split("/")
        if len(parts) != 3 or not parts[2].endswith(".gif") or len(parts[2]) <= 4:
            await _respond(send, 404, _EMPTY_HEADERS)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, [(b"allow", b"GET, HEAD"), *_EMPTY_HEADERS])
            return
        token = parts[2][:-4]
        tracker = tracker_for(app)
        reader: Any
        try:
            reader = tracker.resolve_reader(token, cached=True)
            if reader is MISS:
                reader = await run_in_threadpool(tracker.resolve_reader, token)
        except Exception as exc:
            log.error("cannot record an open (database unavailable?): %s", exc)
            reader = MISS  # unknown, but a reader may be waiting for the image: serve it
        if reader is None:
            await _respond(send, 404, _EMPTY_HEADERS)
            return
        if isinstance(reader, Reader):
            await _save(tracker, tracker.open_record(reader, _visit(app, scope)))
        await _respond(send, 200, _GIF_HEADERS, b"" if scope["method"] == "HEAD" else PIXEL)
