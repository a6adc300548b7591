"""Error answers: friendly HTML pages for browsers, JSON (``{"detail": ...}``) for the rest.

A browser says it wants HTML (``Accept: text/html``); API clients, webhooks and scripts do not,
and keep FastAPI's JSON answers. Nothing here hides an error from the logs: a 500 is logged
with its traceback by the server as before, and the page says only that something went wrong.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsletter.web.api.errors import error_body
from newsletter.web.pages import render_page

log = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/metrics")
# Paths the API's mount does not take (Starlette's mount does not match a path holding a line
# break, %0A) still answer in the API's one error shape.
_API_PREFIX = "/api/v1/"


def wants_html(request: Request) -> bool:
    """A browser asking for a page (not an API client, a webhook or a script)."""
    if request.url.path.startswith(_JSON_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(_API_PREFIX):
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return JSONResponse(
            error_body(exc.status_code, message.lower()),
            status_code=exc.status_code,
            headers={"Cache-Control": "no-store", **(exc.headers or {})},
        )
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 404:
        return render_page(request, "error_404.html", status_code=404, path=request.url.path)
    detail = exc.detail if isinstance(exc.detail, str) else "The request could not be handled."
    response = render_page(request, "error_other.html", status_code=exc.status_code, detail=detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _server_error(request: Request, exc: Exception) -> Response:
    if wants_html(request):
        return render_page(request, "error_500.html", status_code=500)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def install(app: FastAPI) -> None:
    """Answer errors on ``app`` as described in the module docstring."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
