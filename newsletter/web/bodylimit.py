"""Request bodies capped while they stream: a pure ASGI middleware with per-route limits.

A request whose Content-Length exceeds its route's limit is answered 413 before the app runs;
one without a length (chunked) is counted chunk by chunk as the app reads it, and the read that
crosses the limit raises :class:`BodyTooLarge`, an HTTPException(413), so neither FastAPI's
form parsing nor a handler ever holds more than the limit in memory.

Limits are by path prefix, the longest prefix winning:
``BodyLimit(app, default=1 << 20, limits={"/webhooks/sendgrid": 5 << 20})``. A page that takes
uploads adds its own at install time (``app.add_middleware(BodyLimit, ...)`` is done once in
``web/app.py``; pass the limits there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_PREFIXES = ("/api/",)  # answered in JSON rather than text
DEFAULT_LIMIT = 1 << 20  # 1 MiB: every form and JSON body of the service fits easily


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body is larger than {limit} bytes.")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, default: int = DEFAULT_LIMIT, limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.limits = dict(limits or {})

    def limit_for(self, path: str) -> int:
        best, chosen = -1, self.default
        for prefix, limit in self.limits.items():
            if path.startswith(prefix) and len(prefix) > best:
                best, chosen = len(prefix), limit
        return chosen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if await refuse_declared_body(scope, send, limit):
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(send, limit, scope["path"])


async def refuse_declared_body(scope: Scope, send: Send, limit: int) -> bool:
    """Answer 413 (and return True) when the request declares a body over ``limit`` (or an
    invalid Content-Length); a path answered ahead of the middleware checks this itself."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared < 0 or declared > limit:
                await _refuse(send, limit, scope["path"])
                return True
            break
    return False


async def _refuse(send: Send, limit: int, path: str = "") -> None:
    message = f"The request body is larger than {limit} bytes."
    if path.startswith(JSON_PREFIXES):
        # The API answers every error in its one JSON shape (newsletter.web.api.errors).
        body = json.dumps(
            {"error": {"status": 413, "code": "too_large", "message": message}}
        ).encode()
        content_type = b"application/json"
    else:
        body = (message + "\n").encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
