"""Rate limits counted in the database, so every web process and worker sees the same counts.

A :class:`Limit` allows ``max`` attempts per ``window`` for one key (an account, a client
address, an email address...). Counting uses fixed windows: one ``rate_counter`` row per
(key, window start), incremented by one atomic upsert, so concurrent requests in several
processes never lose a count. :func:`hit` counts an attempt and says whether it is allowed;
:func:`peek` asks without counting; :func:`clear` forgets a key (after a successful sign-in).
The caller commits, in the same transaction as whatever else the request writes.

Limits used by the staff app are defined here, so later pages (sign-up, preferences, the API)
reuse the one module and their numbers sit side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlmodel import Session, col

from newsletter.db import dialect_insert
from newsletter.models import RateCounter


@dataclass(frozen=True)
class Limit:
    name: str
    max: int
    window: timedelta

    def key(self, subject: str) -> str:
        return f"{self.name}:{subject}"[:200]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    count: int
    retry_after: timedelta  # until the window ends (zero when allowed)


# Wrong passwords for one account before it locks (the lock itself lives on the account).
SIGN_IN_ACCOUNT = Limit("sign-in-account", 30, timedelta(hours=24))
# Sign-in attempts from one client address: generous, since an office may share one address.
SIGN_IN_CLIENT = Limit("sign-in-client", 100, timedelta(minutes=15))
# Wrong second-factor codes for one account.
SECOND_FACTOR = Limit("second-factor", 10, timedelta(minutes=15))
# Password-reset requests, per address asked about and per client.
RESET_ADDRESS = Limit("reset-address", 3, timedelta(hours=1))
RESET_CLIENT = Limit("reset-client", 20, timedelta(hours=1))
# Invitations sent by one admin.
INVITE = Limit("invite", 50, timedelta(hours=1))
# Public sign-up (/subscribe): confirmation emails per address asked about (the page answers
# the same either way), and sign-ups per client address.
SIGNUP_ADDRESS = Limit("signup-address", 3, timedelta(hours=1))
SIGNUP_CLIENT = Limit("signup-client", 20, timedelta(hours=1))
# The JSON API: requests per token, and failed authentications per client address.
API_TOKEN = Limit("api-token", 300, timedelta(minutes=1))
API_AUTH_CLIENT = Limit("api-auth-client", 30, timedelta(minutes=15))
# Preference-centre form posts (the public /p/TOKEN page): per client address, generous since
# an office shares one address, and per subscriber token.
PREFERENCES_CLIENT = Limit("preferences-client", 120, timedelta(minutes=15))
PREFERENCES_TOKEN = Limit("preferences-token", 30, timedelta(hours=1))
# RFC 8058 one-click POST /u/TOKEN comes from mailbox providers' shared addresses, so it is
# counted per token, never per client; a valid token is never refused (see web/subscriptions).
UNSUBSCRIBE_TOKEN = Limit("unsubscribe-token", 20, timedelta(hours=1))


def _window_start(limit: Limit, now: datetime) -> datetime:
    seconds = int(limit.window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def _decision(limit: Limit, count: int, start: datetime, now: datetime) -> Decision:
    allowed = count <= limit.max
    return Decision(
        allowed=allowed,
        count=count,
        retry_after=timedelta(0) if allowed else start + limit.window - now,
    )


def hit(session: Session, limit: Limit, subject: str, *, now: datetime) -> Decision:
    """Count one attempt for ``subject``; allowed while the window's count is within ``max``."""
    start = _window_start(limit, now)
    stmt = (
        dialect_insert(session, RateCounter.__table__)  # type: ignore[attr-defined]
        .values(key=limit.key(subject), window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=["key", "window_start"],
            set_={"count": RateCounter.__table__.c.count + 1},  # type: ignore[attr-defined]
        )
        .returning(RateCounter.__table__.c.count)  # type: ignore[attr-defined]
    )
    count = int(session.execute(stmt).scalar_one())
    return _decision(limit, count, start, now)


def peek(session: Session, limit: Limit, subject: str, *, now: datetime) -> Decision:
    """The decision the next attempt would get if it were not counted: is the limit reached?"""
    start = _window_start(limit, now)
    count = session.execute(
        select(col(RateCounter.count)).where(
            col(RateCounter.key) == limit.key(subject), col(RateCounter.window_start) == start
        )
    ).scalar_one_or_none()
    # Reached when the window already holds max attempts: one more would exceed it.
    return _decision(limit, (count or 0) + 1, start, now)


def clear(session: Session, limit: Limit, subject: str) -> None:
    """Forget every count for ``subject`` (for example after a successful sign-in)."""
    session.execute(delete(RateCounter).where(col(RateCounter.key) == limit.key(subject)))


def prune(session: Session, *, before: datetime) -> int:
    """Delete windows that started before ``before`` (old counts mean nothing); rows deleted."""
    result = session.execute(delete(RateCounter).where(col(RateCounter.window_start) < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
