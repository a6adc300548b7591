"""What a send reports: the Progress seam, counts by agency, the summary, the start error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from newsletter.models import BulletinStatus


class DispatchError(Exception):
    """A send cannot start (no such bulletin, not approved, not built). Nothing changed."""


class SendInProgress(DispatchError):
    """Another process is sending this bulletin right now; this one changed nothing."""


class Progress(Protocol):
    """What a send reports while it runs (the CLI draws a rich progress bar from it)."""

    def start(self, total: int) -> None:
        """``total`` rows are pending at the start."""
        ...

    def advance(self, count: int) -> None:
        """``count`` more rows reached an outcome (sent, skipped, failed, unknown, pending)."""
        ...

    def note(self, message: str) -> None:
        """Something the operator should read (a failed batch, a pause)."""
        ...


@dataclass
class AgencyCounts:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    pending: int = 0

    def add(self, other: AgencyCounts) -> None:
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.unknown += other.unknown
        self.pending += other.pending


@dataclass
class SendSummary:
    """The ledger of one bulletin after a send, by agency, and what this run did."""

    month: str
    bulletin_id: int
    status: BulletinStatus
    by_agency: dict[str, AgencyCounts] = field(default_factory=dict)
    sent_now: int = 0  # accepted by the transport during this run
    batches: int = 0  # batches handed to the transport during this run
    interrupted: int = 0  # rows a crashed run left "sending", now "unknown"
    stopped: str | None = None  # why the send stopped early (None: it ran to the end)
    errors: list[str] = field(default_factory=list)  # batch errors, first few

    @property
    def totals(self) -> AgencyCounts:
        total = AgencyCounts()
        for counts in self.by_agency.values():
            total.add(counts)
        return total
