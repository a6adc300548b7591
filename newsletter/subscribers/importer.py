"""Streaming CSV import of a subscriber list: every row judged, valid rows upserted.

Contract of :func:`import_csv`:

* The file is a spreadsheet export with a header row naming the columns ``email`` (required),
  ``name``, ``agency``, ``audiences`` and ``status`` in any order; UTF-8 with or without a BOM;
  spreadsheet-style quoting; blank lines are ignored.
* A file that cannot be read as such (no or wrong header, semicolon or tab delimiters, not
  UTF-8, binary data, a broken quote) raises :class:`ImportFileError` naming the line. The
  caller rolls back, so nothing is stored.
* Any other problem rejects only that row, reported with its line number and reason: bad
  address, unknown agency, duplicate in the file (case-insensitive), suppressed address, bad
  audiences, over-long field, extra columns, a name holding a line break or another
  control character (:func:`~newsletter.subscribers.fields.clean_name`).
* Valid rows are upserted in chunks with ``INSERT ... ON CONFLICT (email) DO UPDATE``:
  :func:`import_csv` inside the caller's transaction (the caller commits once: all or nothing;
  fine for small files such as the sample), :func:`import_file` the way every bulk writer
  writes (:mod:`newsletter.shortwrites`): the whole file is read and judged first without a
  write lock and its writes (upserts, status changes, suppressions) staged on disk, then
  applied in short transactions of about 100 ms, so clicks recorded meanwhile never wait
  long. A file that cannot be read changes nothing.
* Idempotent: importing the same file twice adds and updates nothing the second time.
* Never re-subscribes anyone who left: a row for an unsubscribed person is counted under
  ``kept_out`` and not touched (the upsert's ``WHERE status = 'active'`` guards the same rule
  against a concurrent change); bounced, complained and erased addresses are on the
  suppression list and rejected.
* A ``status`` cell brings opt-outs over from another tool: ``unsubscribed``, ``bounced`` or
  ``complained`` stores a new person with that status (never mailed) and moves an active one
  to it; bounced and complained addresses go on the suppression list. Blank or ``active``
  is the ordinary row; ``left`` (written by export) adds a new person as having left their
  agency and changes no one. A status never brings anyone back.
* Memory stays flat as the file grows: rows stream through in chunks, and duplicates are
  found through a temporary table rather than a Python set of every address seen.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, bindparam, select, text, update
from sqlmodel import Session, col

from newsletter.db import dialect_insert, read_session
from newsletter.models import (
    Agency,
    LawfulBasis,
    Source,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.shortwrites import DEFAULT_BUDGET, Stage, apply_in_chunks
from newsletter.subscribers.addresses import AddressError, AgencyDomains, parse_address
from newsletter.subscribers.changes import suppress
from newsletter.subscribers.csvfile import (
    MAX_FILE_BYTES,
    REQUIRED_HEADER,
    ImportFileError,
    open_csv,
    parse_audiences,
    parse_status,
    read_header,
    records,
    shorten,
    unguard,
)
from newsletter.subscribers.fields import FieldError, clean_name

log = logging.getLogger(__name__)

MAX_LENGTHS = {"email": 400, "name": 200, "agency": 100, "audiences": 40, "status": 40}
MAX_LISTED = 1000  # rejections and notices kept for the report; the counts stay exact
CHUNK_SIZE = 500  # rows per upsert: well under SQLite's and PostgreSQL's parameter limits
_STOPPED = (SubscriberStatus.unsubscribed, SubscriberStatus.bounced, SubscriberStatus.complained)
_SUPPRESSING = {SubscriberStatus.bounced: "bounced", SubscriberStatus.complained: "complained"}
_SEEN = "nl_import_seen"  # temporary table: address hash -> first line, for duplicate checks

ProgressCallback = Callable[[int, int], None]  # (rows read, bytes read)


@dataclass(frozen=True, slots=True)
class RowIssue:
    line: int
    reason: str
    value: str = ""  # the row's email cell (shortened), so a person can find the row


@dataclass
class ImportReport:
    """What an import did (or, on a dry run, would do)."""

    dry_run: bool = False
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    # Rows for people who unsubscribed, bounced, complained or left their agency: kept out,
    # not re-subscribed. (Not "left": that is the status of people gone from an agency list.)
    kept_out: int = 0
    rejected: int = 0
    rejections: list[RowIssue] = field(default_factory=list)
    notices: list[RowIssue] = field(default_factory=list)  # agency mismatches, leavers
    notices_count: int = 0

    @property
    def ok(self) -> bool:
        return self.rejected == 0

    def reject(self, line: int, reason: str, value: str = "") -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED:
            self.rejections.append(RowIssue(line, reason, shorten(value)))

    def notice(self, line: int, reason: str, value: str = "") -> None:
        self.notices_count += 1
        if len(self.notices) < MAX_LISTED:
            self.notices.append(RowIssue(line, reason, shorten(value)))


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    email: str
    address_hash: str
    name: str  # "" = keep the current name (or none for a new subscriber)
    agency: str
    audiences: tuple[bool, bool] | None  # None = keep the current ones (both for a new one)
    raw_email: str
    status: SubscriberStatus | None = None  # from the status column; None = ordinary row


class _Agencies:
    """Agency look-up by slug or by name (spreadsheets often carry the name)."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(Agency)).scalars().all()
        self.slugs = {a.slug for a in rows}
        self.lookup = {a.slug.lower(): a.slug for a in rows} | {
            a.name.strip().lower(): a.slug for a in rows
        }
        self.domains = AgencyDomains.from_pairs((a.slug, a.domains) for a in rows)

    def resolve(self, value: str) -> str | None:
        return self.lookup.get(value.strip().lower())


class _Importer:
    def __init__(
        self,
        session: Session,
        *,
        report: ImportReport,
        default_agency: str | None,
        consent_source: str,
        now: datetime,
        source: Source = Source.import_,
        lawful_basis: LawfulBasis = LawfulBasis.public_task,
        stage: Stage | None = None,
    ) -> None:
        self.session = session
        self.stage = stage  # set: writes are staged for import_file, not done here
        self.report = report
        self.agencies = _Agencies(session)
        self.default_agency: str | None = None
        if default_agency is not None:
            self.default_agency = self.agencies.resolve(default_agency)
            if self.default_agency is None:
                raise ImportFileError(
                    f"--agency {default_agency!r} is not an agency; known: "
                    + ", ".join(sorted(self.agencies.slugs))
                )
        self.consent_source = consent_source
        self.source = source
        self.lawful_basis = lawful_basis
        self.now = now
        self.columns: dict[str, int] = {}
        self.width = 0  # number of header fields
        self._upsert_statement: Any = None

    # --- one row, no database -----------------------------------------------------------------

    def parse(self, line: int, fields: list[str]) -> _Row | None:
        report = self.report

        def cell(name: str) -> str:
            index = self.columns.get(name)
            if index is None or index >= len(fields):
                return ""
            return unguard(fields[index].strip())

        raw_email = cell("email")
        extra = [f for i, f in enumerate(fields) if i >= self.width and f.strip()]
        if extra:
            report.reject(line, f"{len(fields)} columns, expected {self.width}", raw_email)
            return None
        for name, limit in MAX_LENGTHS.items():
            if len(cell(name)) > limit:
                report.reject(line, f"{name} longer than {limit} characters", raw_email)
                return None
        try:
            parsed = parse_address(raw_email)
        except AddressError as exc:
            report.reject(line, f"bad address: {exc}", raw_email)
            return None
        try:
            audiences = parse_audiences(cell("audiences"))
        except ValueError as exc:
            report.reject(line, str(exc), raw_email)
            return None
        try:
            status = parse_status(cell("status"))
        except ValueError as exc:
            report.reject(line, str(exc), raw_email)
            return None
        agency_cell = cell("agency")
        if agency_cell:
            agency = self.agencies.resolve(agency_cell)
            if agency is None:
                report.reject(line, f"unknown agency {agency_cell!r}", raw_email)
                return None
            mismatch = self.agencies.domains.mismatch(parsed.email, agency)
            if mismatch:
                report.notice(line, f"check the agency: {mismatch}", raw_email)
        else:
            found = self.default_agency or self.agencies.domains.suggest(parsed.email)
            if found is None:
                report.reject(line, "no agency: fill the agency column or pass --agency", raw_email)
                return None
            agency = found
        try:
            name = clean_name(cell("name") or parsed.display_name)
        except FieldError as exc:
            report.reject(line, str(exc), raw_email)
            return None
        return _Row(
            line=line,
            email=parsed.email,
            address_hash=parsed.address_hash,
            name=name,
            agency=agency,
            audiences=audiences,
            raw_email=raw_email,
            status=status,
        )

    # --- one chunk, against the database -----------------------------------------------------

    def drop_duplicates(self, rows: list[_Row]) -> list[_Row]:
        """Rows whose address came earlier in the file are rejected (first one wins)."""
        first: dict[str, int] = {}
        unique: list[_Row] = []
        for row in rows:
            if row.address_hash in first:
                self.report.reject(
                    row.line, f"duplicate of line {first[row.address_hash]}", row.raw_email
                )
            else:
                first[row.address_hash] = row.line
                unique.append(row)
        if not unique:
            return unique
        found = self.session.execute(
            text(f"SELECT h, line FROM {_SEEN} WHERE h IN :hashes").bindparams(  # noqa: S608
                bindparam("hashes", expanding=True)
            ),
            {"hashes": [r.address_hash for r in unique]},
        )
        earlier: dict[str, int] = {h: line for h, line in found}
        fresh: list[_Row] = []
        for row in unique:
            if row.address_hash in earlier:
                self.report.reject(
                    row.line, f"duplicate of line {earlier[row.address_hash]}", row.raw_email
                )
            else:
                fresh.append(row)
        if fresh:
            self.session.execute(
                text(f"INSERT INTO {_SEEN} (h, line) VALUES (:h, :line)"),  # noqa: S608
                [{"h": r.address_hash, "line": r.line} for r in fresh],
            )
        return fresh

    def apply(self, rows: list[_Row], *, dry_run: bool) -> None:
        report, session = self.report, self.session
        rows = self.drop_duplicates(rows)
        if not rows:
            return
        suppressed = {
            hashed: reason
            for hashed, reason in session.execute(
                select(col(Suppression.address_hash), col(Suppression.reason)).where(
                    col(Suppression.address_hash).in_([r.address_hash for r in rows])
                )
            )
        }
        existing = {
            email: (name, agency, children, adults, status)
            for email, name, agency, children, adults, status in session.execute(
                select(
                    col(Subscriber.email),
                    col(Subscriber.name),
                    col(Subscriber.agency),
                    col(Subscriber.serves_children),
                    col(Subscriber.serves_adults),
                    col(Subscriber.status),
                ).where(col(Subscriber.email).in_([r.email for r in rows]))
            )
        }
        values: list[dict[str, Any]] = []
        for row in rows:
            current = existing.get(row.email)
            if row.address_hash in suppressed and not (
                row.status in _STOPPED and current is not None
            ):
                if row.status in _STOPPED:
                    # Already kept out by the suppression list: nothing to add.
                    report.kept_out += 1
                    continue
                report.reject(
                    row.line, f"suppressed address ({suppressed[row.address_hash]})", row.raw_email
                )
                continue
            if current is None:
                children, adults = row.audiences or (True, True)
                values.append(self._new(row, children, adults))
                if row.status in _SUPPRESSING and not dry_run:
                    self._suppress(row.address_hash, _SUPPRESSING[row.status])
                report.added += 1
                continue
            name, agency, cur_children, cur_adults, status = current
            if row.status in _STOPPED and self._stop(row, status, dry_run=dry_run):
                report.updated += 1
                report.notice(row.line, f"now {row.status}", row.raw_email)
                continue
            if status != SubscriberStatus.active:
                report.kept_out += 1
                report.notice(row.line, f"{status}: not re-subscribed", row.raw_email)
                continue
            if row.status == SubscriberStatus.left:
                report.kept_out += 1
                report.notice(row.line, "left: only a sync marks leavers", row.raw_email)
                continue
            children, adults = row.audiences or (cur_children, cur_adults)
            wanted = (row.name or name, row.agency, children, adults)
            if wanted == (name, agency, cur_children, cur_adults):
                report.unchanged += 1
                continue
            values.append(self._new(row, children, adults) | {"name": wanted[0]})
            report.updated += 1
        if values and not dry_run:
            if self.stage is not None:
                self.stage.extend({"op": "upsert", **v} for v in values)
            else:
                self._upsert(values)

    def _suppress(self, address_hash: str, reason: str) -> None:
        if self.stage is not None:
            self.stage.add({"op": "suppress", "address_hash": address_hash, "reason": reason})
        else:
            suppress(self.session, address_hash, reason=reason)

    def _stop(self, row: _Row, current: SubscriberStatus, *, dry_run: bool) -> bool:
        """Apply a status cell (unsubscribed, bounced, complained) to a stored person.

        Only active people move, except that a complaint outranks an unsubscribe or a
        bounce (as the webhook does). True when the status changes (or would, on a dry run).
        """
        assert row.status is not None
        leaving = [SubscriberStatus.active]
        if row.status == SubscriberStatus.complained:
            leaving += [SubscriberStatus.unsubscribed, SubscriberStatus.bounced]
        if current not in leaving or current == row.status:
            return False
        if dry_run:
            return True
        if row.status in _SUPPRESSING:
            self._suppress(row.address_hash, _SUPPRESSING[row.status])
        if self.stage is not None:
            # Applied later, guarded the same way: True here means "will change".
            self.stage.add(
                {
                    "op": "stop",
                    "email": row.email,
                    "status": row.status.value,
                    "leaving": [s.value for s in leaving],
                }
            )
            return True
        return _stop_statement(self.session, row.email, row.status.value, leaving, self.now)

    def _new(self, row: _Row, children: bool, adults: bool) -> dict[str, Any]:
        status = row.status or SubscriberStatus.active
        return {
            "email": row.email,
            "address_hash": row.address_hash,
            "name": row.name,
            "agency": row.agency,
            "serves_children": children,
            "serves_adults": adults,
            "status": status.value,
            "status_changed_at": None if status == SubscriberStatus.active else self.now,
            "token": secrets.token_urlsafe(24),
            "source": self.source.value,
            "lawful_basis": self.lawful_basis.value,
            "consent_source": self.consent_source,
            "consent_at": self.now,
            "consent_wording": "",
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _upsert(self, values: list[dict[str, Any]]) -> None:
        # One statement with a list of parameter sets: compiled once and cached, sent as
        # batched multi-row VALUES by SQLAlchemy's insertmanyvalues on both dialects.
        self.session.execute(self._statement(), values)

    def _statement(self) -> Any:
        if self._upsert_statement is None:
            self._upsert_statement = upsert_statement(self.session)
        return self._upsert_statement


def upsert_statement(session: Session) -> Any:
    """The subscriber upsert: insert, or update name, agency and audiences of an active one."""
    table = Subscriber.__table__  # type: ignore[attr-defined]
    insert = dialect_insert(session, table)
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["email"],
        set_={
            "name": excluded.name,
            "agency": excluded.agency,
            "serves_children": excluded.serves_children,
            "serves_adults": excluded.serves_adults,
            "updated_at": excluded.updated_at,
        },
        # Someone who left since we looked stays out.
        where=table.c.status == SubscriberStatus.active.value,
    )


def _stop_statement(
    session: Session, email: str, status: str, leaving: list[Any], now: datetime
) -> bool:
    """Move a stored person to ``status`` if they are still in one of ``leaving``."""
    result = session.execute(
        update(Subscriber)
        .where(col(Subscriber.email) == email)
        .where(col(Subscriber.status).in_([str(s) for s in leaving]))
        .values(status=status, status_changed_at=now, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _create_seen_table(session: Session) -> None:
    dialect = session.get_bind().dialect.name
    # ON COMMIT DROP keeps PostgreSQL's pooled connections clean; SQLite drops it on close
    # (and both undo the CREATE on rollback).
    suffix = " ON COMMIT DROP" if dialect == "postgresql" else ""
    session.execute(
        text(f"CREATE TEMPORARY TABLE {_SEEN} (h VARCHAR(64) PRIMARY KEY, line INTEGER){suffix}")
    )


def import_csv(
    session: Session,
    file: Path | IO[bytes],
    *,
    now: datetime,
    consent_source: str,
    default_agency: str | None = None,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    on_progress: ProgressCallback | None = None,
    source: Source = Source.import_,
    max_bytes: int = MAX_FILE_BYTES,
    stage: Stage | None = None,
) -> ImportReport:
    """Import a subscriber CSV inside the caller's transaction (see the module docstring).

    ``consent_source`` and ``now`` are recorded as the consent of every added subscriber.
    ``source`` is recorded as where added subscribers came from (lawful basis: public task).
    ``default_agency`` fills rows whose agency cell is empty (else the domain's agency, if
    only one agency claims it). With ``dry_run`` nothing is written; the report says what an
    import would do. Raises ImportFileError when the file as a whole is unusable (among other
    things, longer than ``max_bytes``, or a line or quoted field without end: limits are
    enforced while reading): the caller must then roll back.
    With ``stage`` the writes go there instead of into the database (see :func:`import_file`).
    """
    report = ImportReport(dry_run=dry_run)
    importer = _Importer(
        session,
        report=report,
        default_agency=default_agency,
        consent_source=consent_source,
        now=now,
        source=source,
        stage=stage,
    )
    raw = open_csv(file)
    try:
        rows_in = records(raw, max_bytes=max_bytes)
        header = next(rows_in, None)
        if header is None:
            raise ImportFileError(f"the file is empty; expected a header row {REQUIRED_HEADER}")
        importer.columns = read_header(header[1], header[0])
        importer.width = len(header[1])
        _create_seen_table(session)
        chunk: list[_Row] = []
        for line, fields in rows_in:
            report.rows += 1
            row = importer.parse(line, fields)
            if row is not None:
                chunk.append(row)
            if len(chunk) >= chunk_size:
                importer.apply(chunk, dry_run=dry_run)
                chunk = []
                if on_progress is not None:
                    on_progress(report.rows, _position(raw))
        if chunk:
            importer.apply(chunk, dry_run=dry_run)
        if on_progress is not None:
            on_progress(report.rows, _position(raw))
        session.execute(text(f"DROP TABLE {_SEEN}"))
    finally:
        if isinstance(file, Path):
            raw.close()
    log.info(
        "import: %d rows, %d added, %d updated, %d unchanged, %d kept out, %d rejected%s",
        report.rows,
        report.added,
        report.updated,
        report.unchanged,
        report.kept_out,
        report.rejected,
        " (dry run)" if dry_run else "",
    )
    return report


_DATETIMES = ("status_changed_at", "consent_at", "created_at", "updated_at")


def _decode_staged(row: dict[str, Any]) -> dict[str, Any]:
    for name in _DATETIMES:
        if row.get(name) is not None:
            row[name] = datetime.fromisoformat(row[name])
    return row


def import_file(
    engine: Engine,
    file: Path | IO[bytes],
    *,
    now: datetime,
    consent_source: str,
    default_agency: str | None = None,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
    source: Source = Source.import_,
    budget: float = DEFAULT_BUDGET,
) -> ImportReport:
    """Import a subscriber CSV as a bulk writer must (see the module docstring).

    First the whole file is read and judged with a read-only session (no write lock held) and
    the writes it needs are staged on disk; then they are applied in short transactions of
    about ``budget`` seconds. Raises ImportFileError, having written nothing, when the file as
    a whole is unusable. The report is the same as :func:`import_csv`'s.
    """
    with Stage(decode=_decode_staged) as stage:
        with read_session(engine) as session:
            report = import_csv(
                session,
                file,
                now=now,
                consent_source=consent_source,
                default_agency=default_agency,
                dry_run=dry_run,
                on_progress=on_progress,
                source=source,
                stage=stage,
            )
        if dry_run or not len(stage):
            return report
        statement: list[Any] = []

        def apply(session: Session, rows: list[dict[str, Any]]) -> None:
            upserts = [
                {k: v for k, v in r.items() if k != "op"} for r in rows if r["op"] == "upsert"
            ]
            if upserts:
                if not statement:
                    statement.append(upsert_statement(session))
                session.execute(statement[0], upserts)
            for r in rows:
                if r["op"] == "suppress":
                    suppress(session, r["address_hash"], reason=r["reason"])
                elif r["op"] == "stop":
                    _stop_statement(session, r["email"], r["status"], r["leaving"], now)

        apply_in_chunks(engine, stage, apply, budget=budget)
    return report


def _position(raw: IO[bytes]) -> int:
    try:
        return raw.tell()
    except OSError:
        return 0


__all__: Sequence[str] = ("ImportReport", "RowIssue", "import_csv", "import_file")
