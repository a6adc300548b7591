"""Server-side staff sessions and the CSRF tokens bound to them.

The session cookie holds 32 random bytes; the database holds only their SHA-256, so a copy of
the table cannot be replayed as cookies. A session ends when its row goes: on sign-out, on a
password change or removal (every row of that person), after STAFF_IDLE_MINUTES without a
request, or STAFF_SESSION_HOURS after sign-in, whichever comes first. Signing in always starts
a new row with a new value (no session fixation).

CSRF tokens are synchroniser tokens derived, not stored: HMAC(secret, cookie value). A visitor
who is not signed in (sign-in, reset and invitation pages) gets a random ``pre`` cookie to bind
the token to instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from fastapi import Request, Response
from sqlalchemy import delete, or_
from sqlmodel import Session, col, select

from newsletter.accounts import user_id
from newsletter.config import Settings
from newsletter.models import SessionStage, StaffSession, User

COOKIE = "newsletter_staff"
PRE_COOKIE = "newsletter_pre"
COOKIE_PATH = "/admin"
# Touching last_seen_at on every request would write on every page view; a minute is enough
# precision for a 30-minute idle timeout.
_TOUCH_EVERY = timedelta(seconds=60)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def start(
    db: Session, request: Request, user: User, *, stage: SessionStage, now: datetime
) -> tuple[StaffSession, str]:
    """A new session row for ``user`` and the cookie value that names it (caller commits)."""
    token = new_token()
    row = StaffSession(
        token_hash=token_hash(token),
        user_id=user_id(user),
        stage=stage,
        created_at=now,
        last_seen_at=now,
        client=client_address(request)[:64],
        user_agent=(request.headers.get("user-agent") or "")[:300] or None,
    )
    db.add(row)
    db.flush()
    return row, token


def find(
    db: Session, token: str | None, *, settings: Settings, now: datetime
) -> StaffSession | None:
    """The live session named by ``token``; an expired one is deleted and None returned."""
    if not token:
        return None
    row = db.exec(
        select(StaffSession).where(col(StaffSession.token_hash) == token_hash(token))
    ).first()
    if row is None:
        return None
    idle = timedelta(minutes=settings.staff_idle_minutes)
    absolute = timedelta(hours=settings.staff_session_hours)
    if now - row.last_seen_at >= idle or now - row.created_at >= absolute:
        db.delete(row)
        db.commit()
        return None
    if now - row.last_seen_at >= _TOUCH_EVERY:
        row.last_seen_at = now
        db.add(row)
        db.commit()
    return row


def end(db: Session, row: StaffSession) -> None:
    db.delete(row)


def prune(db: Session, *, settings: Settings, now: datetime) -> int:
    """Delete sessions past either timeout (housekeeping; find() refuses them anyway)."""
    idle_cutoff = now - timedelta(minutes=settings.staff_idle_minutes)
    absolute_cutoff = now - timedelta(hours=settings.staff_session_hours)
    result = db.execute(
        delete(StaffSession).where(
            or_(
                col(StaffSession.last_seen_at) < idle_cutoff,
                col(StaffSession.created_at) < absolute_cutoff,
            )
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def set_cookie(response: Response, token: str, *, settings: Settings) -> None:
    # No max-age: a browser session cookie; the server decides when the session ends.
    response.set_cookie(
        COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )
    response.delete_cookie(PRE_COOKIE, path=COOKIE_PATH)


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH)


def set_pre_cookie(response: Response, value: str, *, settings: Settings) -> None:
    response.set_cookie(
        PRE_COOKIE,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def csrf_for(settings: Settings, seed: str) -> str:
    return hmac.new(settings.secret, b"staff csrf v1|" + seed.encode(), hashlib.sha256).hexdigest()


def csrf_seed(request: Request) -> str | None:
    """The cookie value the request's CSRF token is bound to (session first, else pre)."""
    return request.cookies.get(COOKIE) or request.cookies.get(PRE_COOKIE)
