"""A rate limit is flow control, not an error: 429 storms slow a send down but never fail it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.devtools.sendgrid_standin import Answer, SendGridStandIn
from newsletter.dispatch import RetryPolicy, send_bulletin
from newsletter.models import BulletinStatus
from newsletter.transports import make_transport
from newsletter.transports.base import RateLimited, RetryableError
from newsletter.transports.memory import MemoryTransport
from tests.conftest import make_settings
from tests.factories import make_bulletin, make_subscriber, make_variant

KEY = "SG.throttle-key"


class Sleeper:
    """An injected sleep that moves the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(api_key=KEY) as server:
        yield server


def approved(session: Session, people: int = 4) -> str:
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    make_variant(session, bulletin, agency="health", html="<p>Hi __NL_NAME__ __NL_TOKEN__</p>")
    for _ in range(people):
        make_subscriber(session, agency="health")
    session.commit()
    return bulletin.month


def test_twelve_429s_in_a_row_wait_and_then_send_everything(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    month = approved(session)
    transport = MemoryTransport()
    transport.fail_next(*[RateLimited("429 too many requests") for _ in range(12)])
    sleeper = Sleeper(clock)

    summary = send_bulletin(
        engine,
        settings,
        month,
        transport=transport,
        clock=clock,
        sleep=sleeper,
        policy=RetryPolicy(max_attempts=5, base=1.0, max_wait=60.0),
    )

    assert summary.status is BulletinStatus.sent
    assert summary.stopped is None
    assert summary.totals.sent == 4
    assert len(sleeper.waits) == 12
    # Without a reset time the waits back off, up to the longest wait allowed.
    assert max(sleeper.waits) <= 60.0
    assert sum(sleeper.waits) > 60.0


def test_throttling_does_not_spend_the_attempts_that_errors_have(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    month = approved(session)
    transport = MemoryTransport()
    reset = clock.now() + timedelta(seconds=5)
    errors: list[RetryableError] = []
    for _ in range(4):  # four real errors, each followed by throttling
        errors.append(RetryableError("503 service unavailable"))
        errors.extend(RateLimited("429", reset_at=reset) for _ in range(3))
    transport.fail_next(*errors)

    summary = send_bulletin(
        engine,
        settings,
        month,
        transport=transport,
        clock=clock,
        sleep=Sleeper(clock),
        policy=RetryPolicy(max_attempts=5),
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 4


def test_real_errors_still_stop_a_send_after_the_attempts_even_between_429s(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    month = approved(session)
    transport = MemoryTransport()
    errors: list[RetryableError] = []
    for _ in range(5):
        errors.append(RateLimited("429"))
        errors.append(RetryableError("500 internal error"))
    transport.fail_next(*errors)

    summary = send_bulletin(
        engine,
        settings,
        month,
        transport=transport,
        clock=clock,
        sleep=Sleeper(clock),
        policy=RetryPolicy(max_attempts=5),
    )

    assert summary.stopped is not None
    assert "kept failing after 5 attempts" in summary.stopped
    assert summary.totals.sent == 0


def test_a_429_storm_from_sendgrid_over_http_never_fails_the_bulletin(
    engine: Engine,
    session: Session,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    standin: SendGridStandIn,
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        sendgrid_api_key=KEY,
        sendgrid_host=standin.url,
        batch_size=2,
    )
    month = approved(session)
    standin.script(*[Answer.rate_limited(reset_in=1) for _ in range(12)])
    sleeper = Sleeper(clock)

    summary = send_bulletin(
        engine,
        settings,
        month,
        transport=make_transport(settings, "sendgrid"),
        clock=clock,
        sleep=sleeper,
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 4
    assert len(sleeper.waits) == 12
    assert standin.requests == 12 + 2
