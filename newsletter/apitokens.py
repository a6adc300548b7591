"""API tokens: created and revoked by admins (CLI and staff app), checked on every API request.

* A token is ``nl_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored
  (a secret this long needs no slow hash), with its first characters to recognise it by;
  the whole token is shown once, when it is created.
* :func:`authenticate` looks the token up on every request and refuses a revoked one, so a
  revocation stops it at once, in every process.
* Every function works inside the caller's transaction; creating and revoking are written to
  the activity log by the callers (they know who acted).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.models import ApiToken, Scope

PREFIX = "nl_"
_SHAPE = re.compile(r"nl_[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}")
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class TokenError(ValueError):
    """A token cannot be created or revoked; the message says why."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: Iterable[str]) -> list[str]:
    """Known scopes, in a stable order; raises TokenError naming any unknown one."""
    wanted = {v.strip() for value in values for v in value.split(",") if v.strip()}
    known = {s.value for s in Scope}
    unknown = sorted(wanted - known)
    if unknown:
        raise TokenError(
            f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(s.value for s in Scope)}"
        )
    if not wanted:
        raise TokenError(f"give at least one scope: {', '.join(s.value for s in Scope)}")
    return [s.value for s in Scope if s.value in wanted]


def create_token(
    session: Session, name: str, scopes: Iterable[str], *, by: str, now: datetime
) -> NewToken:
    """A new token called ``name`` (unique among tokens, revoked ones included)."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise TokenError(
            "a token name is 1 to 100 letters, digits, spaces, dots, dashes or underscores"
        )
    if session.exec(select(ApiToken).where(col(ApiToken.name) == name)).first() is not None:
        raise TokenError(f"a token called {name!r} already exists")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        prefix=secret[:8],
        secret_hash=_hash(secret),
        scopes=parse_scopes(scopes),
        created_at=now,
        created_by=by[:320],
    )
    session.add(token)
    session.flush()
    return NewToken(token=token, secret=secret)


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())


def revoke_token(session: Session, name: str, *, by: str, now: datetime) -> ApiToken:
    """Revoke the token called ``name``; raises TokenError when there is none or it is revoked."""
    token = session.exec(select(ApiToken).where(col(ApiToken.name) == name.strip())).first()
    if token is None:
        raise TokenError(f"no token called {name!r}")
    if token.revoked_at is not None:
        raise TokenError(f"the token {name!r} was already revoked")
    token.revoked_at = now
    token.revoked_by = by[:320]
    session.add(token)
    session.flush()
    return token


def authenticate(session: Session, secret: str, *, now: datetime) -> ApiToken | None:
    """The live token ``secret`` stands for, or None (unknown, malformed or revoked)."""
    if not _SHAPE.fullmatch(secret):
        return None
    token = session.exec(select(ApiToken).where(col(ApiToken.secret_hash) == _hash(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.secret_hash, _hash(secret)):
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        session.execute(
            update(ApiToken).where(col(ApiToken.id) == token.id).values(last_used_at=now)
        )
        token.last_used_at = now
    return token


def actor(token: ApiToken) -> str:
    """How a token appears in the activity log."""
    return f"token:{token.name}"


__all__ = (
    "NewToken",
    "TokenError",
    "actor",
    "authenticate",
    "create_token",
    "list_tokens",
    "parse_scopes",
    "revoke_token",
)
