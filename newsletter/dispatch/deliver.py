"""Handing one batch to a transport: retries, backoff, rate limits, and what each error means.

:func:`deliver` never touches the database; it returns what happened to every recipient and
whether the whole send must stop. The caller records it.

==========================  =========================================================
transport raises / returns  what happens to the batch's recipients
==========================  =========================================================
results                     each recipient's own outcome; ``deferred`` ones retried
RateLimited (429)           wait until ``reset_at`` (capped; without one, back off),
                            try again. Throttling is flow control, not an error: it
                            never spends an attempt, so a bulletin never fails on
                            429s alone (the wait ends early if the send is stopped)
RetryableError (5xx, conn)  exponential backoff with jitter, bounded attempts; when
                            exhausted: back to ``pending`` and the send stops
PermanentError (400, 413)   ``failed`` with the provider's error; counts to the
                            error threshold
AuthenticationError         back to ``pending`` (nothing left) and the send stops
OutcomeUnknown (timeout)    ``unknown``: never resent without an operator's decision
==========================  =========================================================
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from newsletter.clock import Clock
from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    Recipient,
    RecipientResult,
    RetryableError,
    Transport,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    max_wait: float = 300.0  # seconds; caps every single wait
    base: float = 1.0  # first backoff, doubled per attempt
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so several
        senders hitting the same outage do not retry in lockstep."""
        ceiling = min(self.max_wait, self.base * 2.0 ** max(0, attempt - 1))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def rate_limit_wait(self, reset_at: datetime | None, now: datetime, attempt: int) -> float:
        """Until the provider's reset time (capped; at least a second, so a reset already
        past does not turn into a tight loop); without one, the ordinary backoff."""
        if reset_at is None:
            return self.backoff(attempt)
        return min(self.max_wait, max(1.0, (reset_at - now).total_seconds()))


@dataclass
class Delivered:
    """What became of one batch. ``pending`` recipients left nothing at the provider."""

    sent: list[RecipientResult] = field(default_factory=list)
    failed: list[RecipientResult] = field(default_factory=list)
    unknown: list[RecipientResult] = field(default_factory=list)
    pending: list[Recipient] = field(default_factory=list)
    batch_error: str | None = None  # counts towards the error threshold
    stop: str | None = None  # the whole send must stop (auth, provider down)
    attempts: int = 0  # requests that counted (every one but those throttled)
    throttled: int = 0  # requests answered "too many requests" (429)


def _detail(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return f"{exc}: {detail}" if detail else str(exc)


def deliver(
    transport: Transport,
    batch: Batch,
    *,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep,
    stopping: Callable[[], bool] | None = None,
) -> Delivered:
    """Send ``batch`` through ``transport``, retrying what may be retried.

    ``stopping`` is asked before every retry: once it says yes, what is left goes back to
    ``pending`` (nothing of it left) and the send stops, so a shutdown is never held up by a
    long rate-limit wait (``sleep`` should return early too).
    """
    out = Delivered()
    remaining: Sequence[Recipient] = batch.recipients
    while remaining:
        if stopping is not None and stopping():
            out.pending.extend(remaining)
            out.stop = "the send was stopped while this batch waited to be sent again"
            return out
        out.attempts += 1
        attempt = out.attempts
        try:
            results = transport.send(dataclasses.replace(batch, recipients=list(remaining)))
        except RateLimited as exc:
            # Not an attempt: the provider asks us to slow down, and nothing was sent.
            out.attempts -= 1
            out.throttled += 1
            wait = policy.rate_limit_wait(exc.reset_at, clock.now(), out.throttled)
            log.warning(
                "batch of %d: %s; waiting %.1fs for the rate limit (%d in a row)",
                len(remaining),
                exc,
                wait,
                out.throttled,
            )
            sleep(wait)
            continue
        except AuthenticationError as exc:
            out.pending.extend(remaining)
            out.stop = f"the {transport.name} transport refused our credentials: {_detail(exc)}"
            return out
        except PermanentError as exc:
            error = _detail(exc)
            out.failed.extend(RecipientResult(r, Outcome.failed, error=error) for r in remaining)
            out.batch_error = error
            return out
        except OutcomeUnknown as exc:
            error = _detail(exc)
            out.unknown.extend(RecipientResult(r, Outcome.unknown, error=error) for r in remaining)
            out.batch_error = error
            return out
        except RetryableError as exc:
            if attempt >= policy.max_attempts:
                out.pending.extend(remaining)
                out.stop = (
                    f"the {transport.name} transport kept failing after {attempt} attempts: "
                    f"{_detail(exc)}"
                )
                return out
            wait = policy.backoff(attempt)
            log.warning(
                "batch of %d: %s; retrying in %.1fs (attempt %d of %d)",
                len(remaining),
                exc,
                wait,
                attempt + 1,
                policy.max_attempts,
            )
            sleep(wait)
            continue

        deferred: list[Recipient] = []
        for result in results:
            if result.outcome is Outcome.sent:
                out.sent.append(result)
            elif result.outcome is Outcome.failed:
                out.failed.append(result)
            elif result.outcome is Outcome.unknown:
                out.unknown.append(result)
            else:
                deferred.append(result.recipient)
        if len(results) != len(remaining):
            # A transport must answer for every recipient; any it skipped left nothing we know
            # of, but we cannot be sure: treat them as unknown rather than resend.
            answered = {id(r.recipient) for r in results}
            missing = [r for r in remaining if id(r) not in answered]
            out.unknown.extend(
                RecipientResult(r, Outcome.unknown, error="no result from transport")
                for r in missing
            )
        remaining = deferred
        if remaining:
            if attempt >= policy.max_attempts:
                out.pending.extend(remaining)
                out.stop = (
                    f"{len(remaining)} recipients were still deferred by the {transport.name} "
                    f"transport after {attempt} attempts"
                )
                return out
            sleep(policy.backoff(attempt))
    return out
