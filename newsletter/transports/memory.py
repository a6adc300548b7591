"""An in-memory transport that behaves like a real one: it personalises each message, keeps it,
and can be told to fail. For tests and for notifications in tests."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from newsletter.personalise import html_values, personalise
from newsletter.transports.base import Batch, Outcome, RecipientResult, TransportError


@dataclass(frozen=True)
class SentMessage:
    to: str
    subject: str
    html: str | None
    text: str
    headers: dict[str, str]
    delivery_id: int | None
    bulletin_id: int | None


class MemoryTransport:
    name = "memory"

    def __init__(self, max_batch: int = 1000) -> None:
        self.max_batch = max_batch
        self.sent: list[SentMessage] = []
        self.failures: deque[TransportError] = deque()  # raised by the next send() calls, in order
        self.closed = False

    def fail_next(self, *errors: TransportError) -> None:
        self.failures.extend(errors)

    def send(self, batch: Batch) -> list[RecipientResult]:
        if len(batch.recipients) > self.max_batch:
            raise ValueError(f"batch of {len(batch.recipients)} exceeds max_batch {self.max_batch}")
        if self.failures:
            raise self.failures.popleft()
        results = []
        for r in batch.recipients:
            self.sent.append(
                SentMessage(
                    to=r.email,
                    subject=personalise(batch.subject, r.values),
                    html=personalise(batch.html, html_values(r.values)) if batch.html else None,
                    text=personalise(batch.text, r.values),
                    headers={**batch.headers, **r.headers},
                    delivery_id=r.delivery_id,
                    bulletin_id=batch.bulletin_id,
                )
            )
            results.append(
                RecipientResult(r, Outcome.sent, provider_message_id=f"mem-{len(self.sent)}")
            )
        return results

    def close(self) -> None:
        self.closed = True
