"""Agency sync: one agency's complete staff list makes that agency's subscribers match it.

Contract of :func:`sync_csv`:

* The file has the import's columns and rules (header, encoding, line-numbered rejections);
  an ``agency`` cell, when filled, must name the agency being synced.
* **Check first, write after.** The whole file is read and judged before anything is written:
  each row is classified (``add``, ``change``, ``rejoin``, ``same``, ``kept`` out) into a
  temporary table on one connection, and the people who would leave are counted. A person
  is a *leaver* when they are active in the agency and their address is not in the file;
  a rejected row whose address could be read still names its person, so it is never a
  leaver.
* **The guard.** When more than ``max_leavers`` percent of the agency's active people would
  leave (a truncated or wrong export), the sync is refused and nothing is written.
* The caller's ``decide`` callback sees the counts and says yes or no (the CLI asks, or
  takes ``--yes``); a dry run stops there.
* **Applying** happens in short write transactions of ``chunk_size`` rows each (adds, then
  changes, returns, leavers), so a big list never holds the database's write lock for long;
  each write is guarded by the status it expects (``WHERE status = 'active'``), so a person
  who unsubscribes meanwhile stays unsubscribed.
* Leavers get the status ``left``: kept for reports, never emailed. A ``left`` person who
  reappears in their agency's list is active again. An unsubscribed, bounced, complained or
  erased person is never brought back by a list (counted as ``kept_out``).
* Memory stays flat as the file grows: rows stream in chunks through the temporary table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, bindparam, select, text, update
from sqlmodel import Session, col

from newsletter.models import LawfulBasis, Source, Subscriber, SubscriberStatus, Suppression
from newsletter.subscribers.addresses import AddressError, parse_address
from newsletter.subscribers.csvfile import (
    REQUIRED_HEADER,
    ImportFileError,
    open_csv,
    read_header,
    records,
    unguard,
)
from newsletter.subscribers.importer import CHUNK_SIZE, ImportReport, _Importer, _Row

log = logging.getLogger(__name__)

DEFAULT_MAX_LEAVERS = 20.0  # percent of the agency's active people
_STAGE = "nl_sync_rows"
# The agency's active people whose address is not in the file (``:agency``): the leavers.
_LEAVERS = (
    "SELECT id, email FROM subscriber WHERE agency = :agency AND status = 'active' "  # noqa: S608
    f"AND NOT EXISTS (SELECT 1 FROM {_STAGE} s WHERE s.h = subscriber.address_hash)"
)


@dataclass
class SyncReport(ImportReport):
    """What a sync did or would do. ``updated`` counts changes; the rest are sync's own."""

    agency: str = ""
    max_leavers: float = DEFAULT_MAX_LEAVERS
    active_before: int = 0  # the agency's active people before the sync
    rejoined: int = 0  # people who had left the agency and are on its list again
    leavers: int = 0  # active people not in the file: they get the status ``left``
    refused: str = ""  # why the sync was refused (the guard); "" when it was not
    applied: bool = False  # True once the changes were written
    leaver_sample: list[str] = field(default_factory=list)  # a few leavers' addresses

    @property
    def leaver_share(self) -> float:
        """Leavers as a percentage of the agency's active people."""
        return 100.0 * self.leavers / self.active_before if self.active_before else 0.0

    @property
    def changes(self) -> int:
        return self.updated


Decide = Callable[[SyncReport], bool]


def sync_csv(
    engine: Engine,
    file: Path | IO[bytes],
    *,
    agency: str,
    now: datetime,
    source_name: str,
    max_leavers: float = DEFAULT_MAX_LEAVERS,
    dry_run: bool = False,
    decide: Decide | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SyncReport:
    """Make ``agency``'s subscribers match ``file`` (see the module docstring).

    ``source_name`` (usually the file's name) goes into each added person's record.
    ``decide`` is asked after the check, unless the sync is refused or a dry run; without it
    the sync goes ahead. Raises ImportFileError (nothing written) when the file is unusable
    or the agency unknown.
    """
    report = SyncReport(dry_run=dry_run, max_leavers=max_leavers)
    with engine.connect() as connection:
        _drop_stage(connection)
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                checker = _Checker(
                    session,
                    report=report,
                    agency=agency,
                    consent_source=f"agency list {source_name} (sync)",
                    now=now,
                    chunk_size=chunk_size,
                )
                checker.check(file)
                if report.refused or dry_run:
                    return report
                if decide is not None and not decide(report):
                    return report
                checker.apply()
                report.applied = True
        finally:
            _drop_stage(connection)
    log.info(
        "sync %s: %d rows, %d added, %d changed, %d back, %d left the agency, %d kept out, "
        "%d rejected",
        report.agency,
        report.rows,
        report.added,
        report.updated,
        report.rejoined,
        report.leavers,
        report.kept_out,
        report.rejected,
    )
    return report


def _drop_stage(connection: Connection) -> None:
    connection.rollback()
    connection.execute(text(f"DROP TABLE IF EXISTS {_STAGE}"))
    connection.commit()


@dataclass(frozen=True, slots=True)
class _Staged:
    h: str
    line: int
    email: str
    name: str
    children: bool
    adults: bool
    action: str  # add, change, rejoin, same, kept, rejected


class _Checker:
    def __init__(
        self,
        session: Session,
        *,
        report: SyncReport,
        agency: str,
        consent_source: str,
        now: datetime,
        chunk_size: int,
    ) -> None:
        self.session = session
        self.report = report
        self.now = now
        self.chunk_size = chunk_size
        self.importer = _Importer(
            session,
            report=report,
            default_agency=agency,
            consent_source=consent_source,
            now=now,
            source=Source.agency_list,
            lawful_basis=LawfulBasis.public_task,
        )
        assert self.importer.default_agency is not None  # _Importer raised otherwise
        self.agency = self.importer.default_agency
        report.agency = self.agency

    # --- check: read everything, write only the temporary table ----------------------------

    def check(self, file: Path | IO[bytes]) -> None:
        session, report, importer = self.session, self.report, self.importer
        session.execute(
            text(
                f"CREATE TEMPORARY TABLE {_STAGE} (h VARCHAR(64) PRIMARY KEY, line INTEGER, "
                "email VARCHAR(320), name VARCHAR(200), children BOOLEAN, adults BOOLEAN, "
                "action VARCHAR(10))"
            )
        )
        session.commit()
        raw = open_csv(file)
        try:
            rows_in = records(raw)
            header = next(rows_in, None)
            if header is None:
                raise ImportFileError(f"the file is empty; expected a header row {REQUIRED_HEADER}")
            importer.columns = read_header(header[1], header[0])
            importer.width = len(header[1])
            chunk: list[tuple[int, list[str]]] = []
            for line, fields in rows_in:
                report.rows += 1
                chunk.append((line, fields))
                if len(chunk) >= self.chunk_size:
                    self._check_chunk(chunk)
                    chunk = []
            if chunk:
                self._check_chunk(chunk)
        finally:
            if isinstance(file, Path):
                raw.close()
        self._count_leavers()
        if report.leaver_share > report.max_leavers:
            report.refused = (
                f"{report.leavers} of the {report.active_before} active people in "
                f"{self.agency} ({report.leaver_share:.0f}%) are not in the file, more than "
                f"the {report.max_leavers:g}% allowed: is the export complete? Nothing was "
                "changed (raise --max-leavers if this is right)"
            )

    def _email_cell(self, fields: list[str]) -> str:
        index = self.importer.columns.get("email")
        if index is None or index >= len(fields):
            return ""
        return unguard(fields[index].strip())

    def _check_chunk(self, chunk: list[tuple[int, list[str]]]) -> None:
        report = self.report
        parsed: list[_Row] = []
        named: dict[str, int] = {}  # address hash -> line, of rejected rows we could still read
        for line, fields in chunk:
            before = report.rejected
            row = self.importer.parse(line, fields)
            if row is not None and row.agency != self.agency:
                report.reject(
                    line,
                    f"agency {row.agency!r} in the list of {self.agency!r}",
                    row.raw_email,
                )
                row = None
            if row is not None and row.status not in (None, SubscriberStatus.active):
                report.reject(
                    line, "a sync takes no status: use import for opt-outs", row.raw_email
                )
                row = None
            if row is not None:
                parsed.append(row)
            elif report.rejected > before:
                try:
                    hashed = parse_address(self._email_cell(fields)).address_hash
                except AddressError:
                    continue
                named.setdefault(hashed, line)
        staged = self._judge(self._unique(parsed))
        staged += [
            _Staged(h, line, "", "", False, False, "rejected")
            for h, line in named.items()
            if h not in {s.h for s in staged}
        ]
        self._stage(staged)
        self.session.commit()

    def _unique(self, rows: list[_Row]) -> list[_Row]:
        """Rows whose address came earlier in the file are rejected (first one wins)."""
        first: dict[str, int] = {}
        for h, line in self.session.execute(
            text(f"SELECT h, line FROM {_STAGE} WHERE h IN :hashes").bindparams(  # noqa: S608
                bindparam("hashes", expanding=True)
            ),
            {"hashes": [r.address_hash for r in rows] or [""]},
        ):
            first[h] = line
        unique: list[_Row] = []
        for row in rows:
            if row.address_hash in first:
                self.report.reject(
                    row.line, f"duplicate of line {first[row.address_hash]}", row.raw_email
                )
            else:
                first[row.address_hash] = row.line
                unique.append(row)
        return unique

    def _judge(self, rows: list[_Row]) -> list[_Staged]:
        report, session = self.report, self.session
        if not rows:
            return []
        suppressed = set(
            session.execute(
                select(col(Suppression.address_hash)).where(
                    col(Suppression.address_hash).in_([r.address_hash for r in rows])
                )
            ).scalars()
        )
        existing = {
            email: (name, agency, children, adults, SubscriberStatus(status))
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
        out: list[_Staged] = []
        for row in rows:
            current = existing.get(row.email)
            if current is None:
                if row.address_hash in suppressed:
                    report.kept_out += 1
                    report.notice(row.line, "suppressed address: not added", row.raw_email)
                    action, children, adults, name = "kept", False, False, ""
                else:
                    report.added += 1
                    children, adults = row.audiences or (True, True)
                    action, name = "add", row.name
                out.append(
                    _Staged(row.address_hash, row.line, row.email, name, children, adults, action)
                )
                continue
            cur_name, cur_agency, cur_children, cur_adults, status = current
            children, adults = row.audiences or (cur_children, cur_adults)
            name = row.name or cur_name
            if status == SubscriberStatus.left and row.address_hash not in suppressed:
                report.rejoined += 1
                action = "rejoin"
            elif status != SubscriberStatus.active:
                report.kept_out += 1
                report.notice(row.line, f"{status}: not re-subscribed", row.raw_email)
                action = "kept"
            elif (name, cur_agency, children, adults) == (
                cur_name,
                self.agency,
                cur_children,
                cur_adults,
            ):
                report.unchanged += 1
                action = "same"
            else:
                report.updated += 1
                if cur_agency != self.agency:
                    report.notice(row.line, f"moves from {cur_agency}", row.raw_email)
                action = "change"
            out.append(
                _Staged(row.address_hash, row.line, row.email, name, children, adults, action)
            )
        return out

    def _stage(self, staged: list[_Staged]) -> None:
        if not staged:
            return
        self.session.execute(
            text(
                f"INSERT INTO {_STAGE} (h, line, email, name, children, adults, action) "  # noqa: S608
                "VALUES (:h, :line, :email, :name, :children, :adults, :action) "
                # A rejected row naming someone already staged adds nothing: they stay named.
                "ON CONFLICT (h) DO NOTHING"
            ),
            [
                {
                    "h": s.h,
                    "line": s.line,
                    "email": s.email,
                    "name": s.name,
                    "children": s.children,
                    "adults": s.adults,
                    "action": s.action,
                }
                for s in staged
            ],
        )

    def _leavers_query(self, *, after: int, limit: int | None) -> Any:
        query = text(_LEAVERS + " AND id > :after ORDER BY id" + (" LIMIT :limit" if limit else ""))
        params: dict[str, Any] = {"agency": self.agency, "after": after}
        if limit is not None:
            params["limit"] = limit
        return self.session.execute(query, params)

    def _count_leavers(self) -> None:
        report, session = self.report, self.session
        report.active_before = session.execute(
            text("SELECT count(*) FROM subscriber WHERE agency = :agency AND status = 'active'"),
            {"agency": self.agency},
        ).scalar_one()
        report.leavers = session.execute(
            text(f"SELECT count(*) FROM ({_LEAVERS}) AS leavers"),  # noqa: S608
            {"agency": self.agency},
        ).scalar_one()
        report.leaver_sample = [
            email for _id, email in self._leavers_query(after=0, limit=10) if email
        ]
        session.commit()

    # --- apply: short write transactions ---------------------------------------------------

    def _staged(self, action: str) -> Iterator[list[dict[str, Any]]]:
        """The staged rows of one action, in chunks, by address hash (keyset)."""
        last = ""
        while True:
            rows = [
                dict(r._mapping)
                for r in self.session.execute(
                    text(
                        f"SELECT h, email, name, children, adults FROM {_STAGE} "  # noqa: S608
                        "WHERE action = :action AND h > :last ORDER BY h LIMIT :limit"
                    ),
                    {"action": action, "last": last, "limit": self.chunk_size},
                )
            ]
            if not rows:
                return
            last = rows[-1]["h"]
            yield rows

    def apply(self) -> None:
        session, importer, now = self.session, self.importer, self.now
        statement = importer._statement()
        for rows in self._staged("add"):
            values = [
                importer._new(
                    _Row(
                        line=0,
                        email=r["email"],
                        address_hash=r["h"],
                        name=r["name"],
                        agency=self.agency,
                        audiences=(bool(r["children"]), bool(r["adults"])),
                        raw_email=r["email"],
                    ),
                    bool(r["children"]),
                    bool(r["adults"]),
                )
                for r in rows
            ]
            session.execute(statement, values)
            session.commit()
        for action, from_status in (
            ("change", SubscriberStatus.active),
            ("rejoin", SubscriberStatus.left),
        ):
            update_one = (
                update(Subscriber)
                .where(col(Subscriber.email) == bindparam("b_email"))
                .where(col(Subscriber.status) == from_status.value)
                .values(
                    name=bindparam("b_name"),
                    agency=self.agency,
                    serves_children=bindparam("b_children"),
                    serves_adults=bindparam("b_adults"),
                    status=SubscriberStatus.active.value,
                    updated_at=now,
                )
            )
            if action == "rejoin":
                update_one = update_one.values(status_changed_at=now)
            for rows in self._staged(action):
                session.connection().execute(
                    update_one,
                    [
                        {
                            "b_email": r["email"],
                            "b_name": r["name"],
                            "b_children": bool(r["children"]),
                            "b_adults": bool(r["adults"]),
                        }
                        for r in rows
                    ],
                )
                session.commit()
        last = 0
        while True:
            ids = [
                row_id for row_id, _email in self._leavers_query(after=last, limit=self.chunk_size)
            ]
            if not ids:
                break
            session.execute(
                update(Subscriber)
                .where(col(Subscriber.id).in_(ids))
                .where(col(Subscriber.status) == SubscriberStatus.active.value)
                .values(status=SubscriberStatus.left.value, status_changed_at=now, updated_at=now)
            )
            session.commit()
            last = ids[-1]


__all__ = ("DEFAULT_MAX_LEAVERS", "SyncReport", "sync_csv")
