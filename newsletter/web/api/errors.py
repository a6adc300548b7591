"""The API's one error shape, for every error: ours, FastAPI's validation, Starlette's 404/405."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
}


class ApiError(Exception):
    """An error answered as ``{"error": {...}}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        fields: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.headers = headers or {}
        self.fields = fields or []


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    fields: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "status": status,
        "code": code or _CODES.get(status, "error"),
        "message": message,
    }
    if fields:
        error["fields"] = fields
    return {"error": error}


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _json(
        exc.status,
        error_body(exc.status, exc.message, code=exc.code, fields=exc.fields),
        exc.headers,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request refused"
    return _json(exc.status_code, error_body(exc.status_code, message), dict(exc.headers or {}))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for problem in exc.errors():
        where = [
            str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")
        ]
        fields.append({"field": ".".join(where) or "body", "message": str(problem.get("msg", ""))})
    return _json(422, error_body(422, "the request is not valid", fields=fields))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("API error", exc_info=exc)
    return _json(500, error_body(500, "something went wrong on our side"))


def install_errors(api: FastAPI) -> None:
    api.add_exception_handler(ApiError, _api_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(Exception, _unexpected)
