"""The API reference (HTML, ours, no CDN) and its OpenAPI document, for staff or token holders.

The document lists what the API can do, which is nobody else's business:

* ``/api/v1/reference`` and ``/api/v1/openapi.json`` answer the holder of a live token (any
  scope); without one the page sends the browser to ``/admin/api`` and the JSON answers 401
  in the API's error shape;
* ``/admin/api`` and ``/admin/api/openapi.json`` answer a signed-in member of staff (the staff
  session cookie belongs to ``/admin``), see :mod:`newsletter.web.staff.tokens`.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from newsletter.apitokens import authenticate
from newsletter.web.api.auth import bearer
from newsletter.web.api.errors import error_body
from newsletter.web.deps import ClockDep, SessionDep
from newsletter.web.pages import render_page

router = APIRouter(include_in_schema=False)

_METHODS = ("get", "post", "put", "patch", "delete")


def _allowed(request: Request, db: SessionDep, clock: ClockDep) -> bool:
    secret = bearer(request)
    allowed = bool(secret) and authenticate(db, secret or "", now=clock.now()) is not None
    db.commit()
    return allowed


_ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "Every error, whatever its status: what went wrong, and for 422 which fields.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "description": "status (the HTTP status), code (e.g. not_found), message, and "
            "fields: a list of {field, message} naming each invalid field",
        }
    },
}
_ERRORS = {
    "401": "No live token (missing, unknown or revoked).",
    "403": "The token lacks the scope this operation needs.",
    "413": "The body is over the size limit.",
    "422": "The request is not valid: fields names each problem.",
    "429": "Too many requests: wait for Retry-After seconds.",
}


def _with_our_errors(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI describes its own validation error; ours has one shape for every error."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = _ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for item in document.get("paths", {}).values():
        for op in item.values():
            responses = op.setdefault("responses", {})
            for status, meaning in _ERRORS.items():
                responses[status] = {"description": meaning, "content": error}
            if "requestBody" in op:
                responses.setdefault("400", {"description": "The body could not be read as JSON."})
            for status, response in responses.items():
                if status.startswith("4"):  # a route's own errors (404, 409...) too
                    response["content"] = error
    return document


def openapi_document(request: Request) -> dict[str, Any]:
    api = request.app.state.api
    document: dict[str, Any] = _with_our_errors(copy.deepcopy(api.openapi()))
    document["servers"] = [{"url": "/api/v1"}]
    document.setdefault("components", {})["securitySchemes"] = {
        "token": {"type": "http", "scheme": "bearer"}
    }
    document["security"] = [{"token": []}]
    return document


@router.get("/api/v1/openapi.json")
def openapi_json(request: Request, db: SessionDep, clock: ClockDep) -> Response:
    """The OpenAPI 3 document of the API."""
    if not _allowed(request, db, clock):
        return JSONResponse(
            error_body(401, "sign in, or send a live API token"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return JSONResponse(openapi_document(request), headers={"Cache-Control": "no-store"})


def _schema_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_schema_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's operations, flattened for the page."""
    out = []
    for path, item in document.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            out.append(
                {
                    "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                    "method": method.upper(),
                    "path": "/api/v1" + path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "where": p.get("in"),
                            "required": p.get("required", False),
                            "type": _schema_name(p.get("schema", {})),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": _schema_name(body["schema"]) if "schema" in body else "",
                    "responses": [
                        {
                            "status": status,
                            "description": r.get("description", ""),
                            "type": _schema_name(
                                r.get("content", {}).get("application/json", {}).get("schema", {})
                            )
                            if r.get("content", {}).get("application/json", {}).get("schema")
                            else "",
                        }
                        for status, r in op.get("responses", {}).items()
                    ],
                }
            )
    return out


def schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        out.append(
            {
                "name": name,
                "description": schema.get("description", ""),
                "fields": [
                    {
                        "name": field,
                        "type": _schema_name(spec),
                        "required": field in required,
                        "description": spec.get("description", ""),
                    }
                    for field, spec in schema.get("properties", {}).items()
                ],
            }
        )
    return out


@router.get("/api/v1/reference", response_model=None)
def reference(request: Request, db: SessionDep, clock: ClockDep) -> Response:
    """The API reference, rendered from the OpenAPI document."""
    if not _allowed(request, db, clock):
        return RedirectResponse(STAFF_REFERENCE, status_code=303)
    return reference_page(request)


STAFF_REFERENCE = "/admin/api"


def reference_page(request: Request) -> HTMLResponse:
    """The reference page (for whoever the caller has let in)."""
    document = openapi_document(request)
    return render_page(
        request,
        "api_reference.html",
        document_url="/admin/api/openapi.json"
        if request.url.path.startswith("/admin/")
        else "/api/v1/openapi.json",
        info=document.get("info", {}),
        operations=operations(document),
        schemas=schemas(document),
    )
