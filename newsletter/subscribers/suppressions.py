"""Importing a suppression list from another tool: people who opted out there are never mailed.

Contract of :func:`import_suppressions`:

* A CSV whose header names an ``email`` column (``email address`` is accepted, as other tools
  export it); an optional ``reason`` column says ``unsubscribed`` (the default), ``bounced``
  or ``complained``; other columns are ignored. File-level problems raise ImportFileError.
* Every readable address goes on the suppression list (its hash only: the list keeps no
  readable address) and an active subscriber with that address takes the matching status.
  Unreadable rows are rejected by line; nothing else is.
* Inside the caller's transaction, in chunks (flat memory); idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import select, update
from sqlmodel import Session, col

from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.subscribers.addresses import AddressError, parse_address
from newsletter.subscribers.changes import suppress
from newsletter.subscribers.csvfile import ImportFileError, open_csv, records, shorten, unguard
from newsletter.subscribers.importer import CHUNK_SIZE, ImportReport

log = logging.getLogger(__name__)

_REASONS = {
    "": SubscriberStatus.unsubscribed,
    "unsubscribed": SubscriberStatus.unsubscribed,
    "unsubscribe": SubscriberStatus.unsubscribed,
    "opted out": SubscriberStatus.unsubscribed,
    "bounced": SubscriberStatus.bounced,
    "bounce": SubscriberStatus.bounced,
    "hard bounce": SubscriberStatus.bounced,
    "complained": SubscriberStatus.complained,
    "complaint": SubscriberStatus.complained,
    "spam": SubscriberStatus.complained,
}
_EMAIL_HEADERS = ("email", "email address", "e-mail", "e-mail address")


@dataclass
class SuppressionReport(ImportReport):
    """``added``: addresses new to the suppression list; ``unchanged``: already on it;
    ``updated``: subscribers who were active and are now kept out."""


def _header(fields: list[str], line: int) -> tuple[int, int | None]:
    names = [f.strip().lower() for f in fields]
    email = next((names.index(n) for n in _EMAIL_HEADERS if n in names), None)
    if email is None:
        raise ImportFileError(
            f"line {line}: the first line must be a header with an email column "
            f"(and optionally reason); found {shorten(','.join(fields), 100)!r}"
        )
    return email, names.index("reason") if "reason" in names else None


def import_suppressions(
    session: Session,
    file: Path | IO[bytes],
    *,
    now: datetime,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> SuppressionReport:
    """Add a suppression list (see the module docstring); the caller commits."""
    report = SuppressionReport(dry_run=dry_run)
    raw = open_csv(file)
    try:
        rows_in = records(raw)
        header = next(rows_in, None)
        if header is None:
            raise ImportFileError("the file is empty; expected a header row email,reason")
        email_at, reason_at = _header(header[1], header[0])
        chunk: list[tuple[int, str, str, SubscriberStatus]] = []
        for line, fields in rows_in:
            report.rows += 1
            cell = unguard(fields[email_at].strip()) if email_at < len(fields) else ""
            reason_cell = (
                fields[reason_at].strip().lower()
                if reason_at is not None and reason_at < len(fields)
                else ""
            )
            status = _REASONS.get(reason_cell)
            if status is None:
                report.reject(
                    line,
                    f"reason {reason_cell!r} not understood: use unsubscribed, bounced or "
                    "complained",
                    cell,
                )
                continue
            try:
                parsed = parse_address(cell)
            except AddressError as exc:
                report.reject(line, f"bad address: {exc}", cell)
                continue
            chunk.append((line, parsed.email, parsed.address_hash, status))
            if len(chunk) >= chunk_size:
                _apply(session, chunk, report=report, now=now, dry_run=dry_run)
                chunk = []
        if chunk:
            _apply(session, chunk, report=report, now=now, dry_run=dry_run)
    finally:
        if isinstance(file, Path):
            raw.close()
    log.info(
        "suppression import: %d rows, %d new, %d already listed, %d subscribers stopped, "
        "%d rejected",
        report.rows,
        report.added,
        report.unchanged,
        report.updated,
        report.rejected,
    )
    return report


def _apply(
    session: Session,
    chunk: list[tuple[int, str, str, SubscriberStatus]],
    *,
    report: SuppressionReport,
    now: datetime,
    dry_run: bool,
) -> None:
    hashes = [h for _line, _email, h, _status in chunk]
    listed = set(
        session.execute(
            select(col(Suppression.address_hash)).where(col(Suppression.address_hash).in_(hashes))
        ).scalars()
    )
    active = set(
        session.execute(
            select(col(Subscriber.email)).where(
                col(Subscriber.email).in_([email for _line, email, _h, _s in chunk]),
                col(Subscriber.status) == SubscriberStatus.active.value,
            )
        ).scalars()
    )
    for _line, email, hashed, status in chunk:
        if hashed in listed:
            report.unchanged += 1
        else:
            report.added += 1
            listed.add(hashed)  # a repeat later in the chunk is "already listed"
            if not dry_run:
                suppress(session, hashed, reason=f"imported: {status.value}")
        if email in active:
            active.discard(email)
            report.updated += 1
            if not dry_run:
                session.execute(
                    update(Subscriber)
                    .where(col(Subscriber.email) == email)
                    .where(col(Subscriber.status) == SubscriberStatus.active.value)
                    .values(status=status.value, status_changed_at=now, updated_at=now)
                )


__all__ = ("SuppressionReport", "import_suppressions")
