"""The API reference for staff: ``/admin/api`` and ``/admin/api/openapi.json``.

Anyone signed in may read it (token holders read it at ``/api/v1/reference``); the staff
session cookie belongs to ``/admin``, hence these paths.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse

from newsletter.web.api.reference import openapi_document, reference_page
from newsletter.web.staff.auth import signed_in, staff_router

router = staff_router(dependencies=[Depends(signed_in)])


@router.get("/api", response_class=HTMLResponse)
def api_reference(request: Request) -> HTMLResponse:
    """The API reference, rendered from the OpenAPI document."""
    return reference_page(request)


@router.get("/api/openapi.json")
def api_document(request: Request) -> JSONResponse:
    """The API's OpenAPI document."""
    return JSONResponse(openapi_document(request), headers={"Cache-Control": "no-store"})
