"""Rate limits counted in the database: shared by every process, windowed, cleared on success."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter import ratelimit

LIMIT = ratelimit.Limit("test", 3, timedelta(minutes=10))
NOW = datetime(2026, 7, 1, 8, 1, tzinfo=UTC)


def test_attempts_past_the_maximum_are_refused_until_the_window_ends(session: Session) -> None:
    decisions = [ratelimit.hit(session, LIMIT, "a", now=NOW) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[-1].retry_after == timedelta(minutes=9)
    assert ratelimit.hit(session, LIMIT, "b", now=NOW).allowed  # another key counts apart
    later = NOW + timedelta(minutes=9)
    assert ratelimit.hit(session, LIMIT, "a", now=later).allowed


def test_two_connections_see_and_add_to_the_same_count(engine: Engine) -> None:
    with Session(engine) as first:
        ratelimit.hit(first, LIMIT, "shared", now=NOW)
        ratelimit.hit(first, LIMIT, "shared", now=NOW)
        first.commit()
    with Session(engine) as second:
        assert ratelimit.peek(second, LIMIT, "shared", now=NOW).count == 3
        third = ratelimit.hit(second, LIMIT, "shared", now=NOW)
        second.commit()
    assert third.count == 3
    with Session(engine) as other:
        assert not ratelimit.peek(other, LIMIT, "shared", now=NOW).allowed


def test_clear_forgets_a_key_and_prune_drops_old_windows(session: Session) -> None:
    for _ in range(3):
        ratelimit.hit(session, LIMIT, "a", now=NOW)
    ratelimit.hit(session, LIMIT, "old", now=NOW - timedelta(days=2))
    ratelimit.clear(session, LIMIT, "a")
    assert ratelimit.peek(session, LIMIT, "a", now=NOW).count == 1
    assert ratelimit.prune(session, before=NOW - timedelta(days=1)) == 1
