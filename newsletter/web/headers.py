"""Security headers on every response: a pure ASGI middleware (cheap on the click path).

Every response gets ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy``; every HTML
response also gets a Content-Security-Policy without inline script (the page's own, when it set
one, gains ``frame-ancestors 'none'`` if it did not say who may frame it), and
``X-Frame-Options`` for old browsers. Over https (PUBLIC_BASE_URL or the request's scheme)
every response carries HSTS. Headers a handler set itself are kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Public pages (landing, archive index, subscription pages): our own files only, nothing
# inline but styles (their templates still carry a <style> block), never framed.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = self.https or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = add_security_headers(
                    list(message.get("headers", [])), https=https
                )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def add_security_headers(
    headers: list[tuple[bytes, bytes]], *, https: bool
) -> list[tuple[bytes, bytes]]:
    """``headers`` (changed in place and returned) with the security headers a response needs:
    what the middleware does, for paths served ahead of it (newsletter.web.tracking)."""
    present = {name.lower(): i for i, (name, _) in enumerate(headers)}
    content_type = headers[present[b"content-type"]][1] if b"content-type" in present else b""
    if b"x-content-type-options" not in present:
        headers.append((b"x-content-type-options", b"nosniff"))
    if b"referrer-policy" not in present:
        headers.append((b"referrer-policy", b"same-origin"))
    if https and b"strict-transport-security" not in present:
        headers.append((b"strict-transport-security", HSTS.encode()))
    if content_type.lower().startswith(b"text/html"):
        if b"content-security-policy" in present:
            i = present[b"content-security-policy"]
            policy = headers[i][1]
            if b"frame-ancestors" not in policy:
                headers[i] = (headers[i][0], policy.rstrip(b"; ") + b"; frame-ancestors 'none'")
        else:
            headers.append((b"content-security-policy", DEFAULT_CSP.encode()))
        if b"x-frame-options" not in present:
            policy = dict(headers).get(b"content-security-policy", b"")
            framed_by_self = b"frame-ancestors 'self'" in policy
            headers.append((b"x-frame-options", b"SAMEORIGIN" if framed_by_self else b"DENY"))
    return headers
