"""The JSON API under ``/api/v1/``: subscribers and the training report, for scoped API tokens.

A FastAPI application of its own, mounted at ``/api/v1`` so that its OpenAPI document holds
only the API, and every answer, errors included, is JSON of one shape::

    {"error": {"status": 404, "code": "not_found", "message": "no subscriber with that address"}}

* Authentication: ``Authorization: Bearer nl_...`` (:mod:`newsletter.apitokens`); every
  request looks the token up, so a revoked token stops at once. A route declares the scope
  it needs (``Depends(scoped(Scope.reports_read))``): 401 without a live token, 403 without
  the scope.
* Limits (:mod:`newsletter.ratelimit`): requests per token per minute, and failed
  authentications per client; over either, 429 with ``Retry-After``. Bodies over the API's
  limit are refused with 413 (:mod:`newsletter.web.bodylimit`).
* Every change is written to the activity log as ``token:<name>``.
* The reference (``/api/v1/reference``, rendered here from the OpenAPI document, no CDN) and
  ``/api/v1/openapi.json`` are for a signed-in member of staff or a token holder.
"""

from __future__ import annotations

from fastapi import FastAPI

from newsletter import __version__
from newsletter.web.api import reference, reports, subscribers
from newsletter.web.api.errors import install_errors

PREFIX = "/api/v1"
BODY_LIMIT = 16 * 1024  # bytes: a subscriber is a few hundred


def build_api(parent: FastAPI) -> FastAPI:
    """The API application, sharing ``parent``'s settings, engine and clock."""
    api = FastAPI(
        title="newsletter API",
        version=__version__,
        description=(
            "Subscribers and reports of the partnership's learning bulletin. Authenticate with "
            "`Authorization: Bearer <token>`; tokens are created by admins (`newsletter tokens "
            "add NAME --scope ...` or the staff app) with the scopes each route names."
        ),
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.settings = parent.state.settings
    api.state.engine = parent.state.engine
    api.state.clock = parent.state.clock
    api.include_router(subscribers.router)
    api.include_router(reports.router)
    install_errors(api)
    return api


def install(app: FastAPI) -> None:
    """Add the reference pages and mount the API under ``/api/v1``."""
    api = build_api(app)
    app.state.api = api
    app.include_router(reference.router)  # before the mount, which would take its paths
    app.mount(PREFIX, api)
