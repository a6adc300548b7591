"""Who is calling the API: a live token with the route's scope, within its rate limit."""

from __future__ import annotations

import math
from collections.abc import Callable

from fastapi import Request

from newsletter.apitokens import authenticate
from newsletter.models import ApiToken, Scope
from newsletter.ratelimit import API_AUTH_CLIENT, API_TOKEN, hit, peek
from newsletter.web.api.errors import ApiError
from newsletter.web.deps import ClockDep, SessionDep


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(seconds: float) -> ApiError:
    wait = max(1, math.ceil(seconds))
    return ApiError(
        429, f"too many requests: try again in {wait} seconds", headers={"Retry-After": str(wait)}
    )


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    kind, _, value = header.partition(" ")
    return value.strip() if kind.lower() == "bearer" and value.strip() else None


def token_from(request: Request, db: SessionDep, clock: ClockDep) -> ApiToken | None:
    """The live token of the request, or None; failed attempts are counted per client."""
    now = clock.now()
    client = client_of(request)
    if not peek(db, API_AUTH_CLIENT, client, now=now).allowed:
        db.rollback()
        raise _too_many(peek(db, API_AUTH_CLIENT, client, now=now).retry_after.total_seconds())
    secret = bearer(request)
    token = authenticate(db, secret, now=now) if secret else None
    if token is None and secret:
        hit(db, API_AUTH_CLIENT, client, now=now)
    db.commit()
    return token


def scoped(scope: Scope) -> Callable[..., ApiToken]:
    """A dependency: the request's live token holding ``scope`` (401, 403 or 429 otherwise)."""

    def check(request: Request, db: SessionDep, clock: ClockDep) -> ApiToken:
        token = token_from(request, db, clock)
        if token is None:
            raise ApiError(
                401,
                "a live API token is needed: Authorization: Bearer <token>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if scope.value not in token.scopes:
            raise ApiError(403, f"this token lacks the {scope.value} scope")
        decision = hit(db, API_TOKEN, str(token.id), now=clock.now())
        db.commit()
        if not decision.allowed:
            raise _too_many(decision.retry_after.total_seconds())
        request.state.token = token
        return token

    check.__name__ = f"scoped_{scope.name}"
    return check
