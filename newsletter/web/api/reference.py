"""The API reference: ``/api/v1/reference`` (HTML, ours, no CDN) and ``/api/v1/openapi.json``.

Both are for a signed-in member of staff or the holder of a live token (any scope): the
document lists what the API can do, which is nobody else's business. A visitor to the page is
sent to sign in; ``openapi.json`` answers 401 in the API's error shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from newsletter.apitokens import authenticate
from newsletter.web.api.auth import bearer
from newsletter.web.api.errors import error_body
from newsletter.web.deps import ClockDep, SessionDep, SettingsDep
from newsletter.web.pages import render_page
from newsletter.web.staff import sessions
from newsletter.web.staff.auth import SignInRequired

router = APIRouter(include_in_schema=False)

_METHODS = ("get", "post", "put", "patch", "delete")


def _allowed(request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep) -> bool:
    now = clock.now()
    secret = bearer(request)
    if secret and authenticate(db, secret, now=now) is not None:
        db.commit()
        return True
    row = sessions.find(db, request.cookies.get(sessions.COOKIE), settings=settings, now=now)
    db.rollback()
    return row is not None and row.stage == "signed_in"


def openapi_document(request: Request) -> dict[str, Any]:
    api = request.app.state.api
    document: dict[str, Any] = api.openapi()
    document["servers"] = [{"url": "/api/v1"}]
    document.setdefault("components", {})["securitySchemes"] = {
        "token": {"type": "http", "scheme": "bearer"}
    }
    document["security"] = [{"token": []}]
    return document


@router.get("/api/v1/openapi.json")
def openapi_json(
    request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """The OpenAPI 3 document of the API."""
    if not _allowed(request, db, settings, clock):
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


@router.get("/api/v1/reference", response_class=HTMLResponse)
def reference(
    request: Request, db: SessionDep, settings: SettingsDep, clock: ClockDep
) -> HTMLResponse:
    """The API reference, rendered from the OpenAPI document."""
    if not _allowed(request, db, settings, clock):
        raise SignInRequired
    document = openapi_document(request)
    return render_page(
        request,
        "api_reference.html",
        info=document.get("info", {}),
        operations=operations(document),
        schemas=schemas(document),
    )
