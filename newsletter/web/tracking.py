"""GET/HEAD /c/{token}/{link_id} (click redirect) and GET/HEAD /o/{token}.gif (open pixel).

These are the hottest paths of the service (every click of every reader, and every gateway
scan), so they are answered by :class:`TrackingFront` AHEAD of the application's whole stack:
the app (``web.app.NewsletterApp``) hands these two prefixes to it before FastAPI's own
layers (telemetry, error pages, body limit) and ours (security headers, body limits), each of
which wraps every message of every request (bench/tracking.py and bench/fleet.py measure the
path against a bare ASGI redirect). What those layers guarantee is kept here, cheaply: the
security headers of ``web.headers`` on every answer (precomputed for the fixed ones), the
body limit (a declared body over it is answered 413; these paths never read a body); an
unexpected error is logged and answered 500 by the server. Everything else goes through the
stack untouched.

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
from starlette.types import Message, Receive, Scope, Send

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
from newsletter.web.bodylimit import DEFAULT_LIMIT, refuse_declared_body
from newsletter.web.headers import add_security_headers
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


PREFIXES = ("/c/", "/o/")  # the paths TrackingFront answers


def install(app: FastAPI) -> None:
    """Flush the click and pixel paths' events on ``app``'s shutdown (the paths themselves are
    served by TrackingFront, which the app calls first)."""
    app.include_router(router)


def tracker_for(app: FastAPI) -> Tracker:
    """The app's tracker, created on first use (handlers run on the event loop: no race)."""
    tracker: Tracker | None = getattr(app.state, "tracker", None)
    if tracker is None:
        tracker = Tracker(app.state.settings, app.state.engine, clock=app.state.clock)
        app.state.tracker = tracker
    return tracker


def _secured(headers: list[tuple[bytes, bytes]]) -> dict[bool, list[tuple[bytes, bytes]]]:
    """``headers`` with the security headers, without and with https (HSTS)."""
    return {https: add_security_headers(list(headers), https=https) for https in (False, True)}


_NO_CACHE_RAW = [(k.lower().encode(), v.encode()) for k, v in NO_CACHE.items()]
_GIF_HEADERS = _secured(
    [
        (b"content-type", b"image/gif"),
        (b"content-length", str(len(PIXEL)).encode()),
        *_NO_CACHE_RAW,
    ]
)
_EMPTY_HEADERS = _secured([(b"content-length", b"0"), *_NO_CACHE_RAW])
# A redirect needs no HTTP/1.0 cache headers (a 302 is not cached without freshness headers);
# no-referrer keeps the token in our URL from reaching the course site in a Referer.
_REDIRECT_HEADERS = _secured(
    [
        (b"content-length", b"0"),
        (b"cache-control", NO_CACHE["Cache-Control"].encode()),
        (b"referrer-policy", b"no-referrer"),
    ]
)
_CLICK_ALLOW = _secured(
    [(b"allow", b"GET, HEAD, OPTIONS"), (b"content-length", b"0"), *_NO_CACHE_RAW]
)
_CLICK_OPTIONS = _secured([(b"allow", b"GET, HEAD, OPTIONS"), *_NO_CACHE_RAW])
_PIXEL_ALLOW = _secured([(b"allow", b"GET, HEAD"), (b"content-length", b"0"), *_NO_CACHE_RAW])
_HONEYPOT = _secured([(b"x-robots-tag", b"noindex"), (b"content-length", b"0"), *_NO_CACHE_RAW])


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


class TrackingFront:
    """Answers /c/... and /o/... (paths starting with PREFIXES) ahead of the app's stack."""

    def __init__(self, *, https: bool = False, body_limit: int = DEFAULT_LIMIT) -> None:
        self.https = https  # PUBLIC_BASE_URL is https: every answer carries HSTS
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``scope["app"]`` is the application (NewsletterApp sets it, as Starlette would)."""
        if await refuse_declared_body(scope, send, self.body_limit):
            return
        https = self.https or scope.get("scheme") == "https"
        # An unexpected error is logged and answered 500 by the server (uvicorn), as
        # ServerErrorMiddleware would: the handlers below turn every expected failure (an
        # unknown token, the database away, recording failing) into their own answer.
        if scope["path"].startswith("/c/"):
            await self.click(scope, receive, send, https)
        else:
            await self.pixel(scope, receive, send, https)

    @staticmethod
    async def _page(
        scope: Scope,
        receive: Receive,
        send: Send,
        https: bool,
        name: str,
        status: int,
        **context: Any,
    ) -> None:
        response = render_page(
            StarletteRequest(scope, receive), name, status_code=status, **context
        )

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = add_security_headers(
                    list(message.get("headers", [])), https=https
                )
            await send(message)

        await response(scope, receive, send_secured)

    async def click(self, scope: Scope, receive: Receive, send: Send, https: bool) -> None:
        """Record a click and redirect to the registered link with its UTM parameters."""
        app: FastAPI = scope["app"]
        method = scope["method"]
        parts = scope["path"].split("/")  # percent-decoded: an encoded '/' adds a part
        if len(parts) != 4 or not parts[2] or not parts[3]:
            await self._page(scope, receive, send, https, "tracking_not_found.html", 404)
            return
        if method not in ("GET", "HEAD", "OPTIONS"):
            await _respond(send, 405, _CLICK_ALLOW[https])
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
            await self._page(scope, receive, send, https, "tracking_unavailable.html", 503)
            return
        if not isinstance(target, ClickTarget):
            await self._page(scope, receive, send, https, "tracking_not_found.html", 404)
            return
        await _save(tracker, tracker.click_record(target, _visit(app, scope)))
        if method == "OPTIONS":
            await _respond(send, 204, _CLICK_OPTIONS[https])
        elif target.link.kind == LinkKind.honeypot:
            # Nothing for a machine to follow; noindex in case a crawler got here.
            await _respond(send, 200, _HONEYPOT[https])
        elif target.link.kind == LinkKind.feedback:
            useful = target.event_type == EventType.feedback_yes
            await self._page(
                scope, receive, send, https, "tracking_thanks.html", 200,
                month=target.link.month, useful=useful,
            )  # fmt: skip
        else:
            location = target.location.encode("latin-1")
            await _respond(send, 302, [(b"location", location), *_REDIRECT_HEADERS[https]])

    async def pixel(self, scope: Scope, receive: Receive, send: Send, https: bool) -> None:
        """Record an open and serve a 1x1 GIF (even when recording fails)."""
        app: FastAPI = scope["app"]
        parts = scope["path"].split("/")
        if len(parts) != 3 or not parts[2].endswith(".gif") or len(parts[2]) <= 4:
            await _respond(send, 404, _EMPTY_HEADERS[https])
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(send, 405, _PIXEL_ALLOW[https])
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
            await _respond(send, 404, _EMPTY_HEADERS[https])
            return
        if isinstance(reader, Reader):
            await _save(tracker, tracker.open_record(reader, _visit(app, scope)))
        await _respond(send, 200, _GIF_HEADERS[https], b"" if scope["method"] == "HEAD" else PIXEL)
