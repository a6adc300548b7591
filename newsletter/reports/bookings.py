"""Importing course bookings and attendance exported from a learning management system.

The CSV has a header naming the columns ``course_id, agency, month, bookings, attended``
(in any order; extra columns are ignored). A file with any bad line changes nothing: every
error is reported with its line number. Rows are upserted on (course id, agency, month), so a
corrected export can be imported again.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlmodel import Session

from newsletter.agencies import agency_slugs
from newsletter.db import dialect_insert
from newsletter.models import CourseBooking, utcnow

REQUIRED = ("course_id", "agency", "month", "bookings", "attended")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class BookingImportError(ValueError):
    """The file cannot be imported; ``errors`` lists ``line N: message`` for each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class BookingRow:
    course_id: str
    agency: str
    month: str
    bookings: int
    attended: int


def parse_bookings(text: str, *, agencies: set[str]) -> list[BookingRow]:
    """Parse and validate every line; raise BookingImportError naming each bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise BookingImportError([f"line 1: missing column(s) {', '.join(missing)}"])
    reader.fieldnames = header
    rows: list[BookingRow] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for record in reader:
        line = reader.line_num
        values = {k: (record.get(k) or "").strip() for k in REQUIRED}
        problems: list[str] = []
        if not values["course_id"]:
            problems.append("course_id is empty")
        if values["agency"] not in agencies:
            problems.append(f"unknown agency {values['agency']!r}")
        if not _MONTH.match(values["month"]):
            problems.append(f"month {values['month']!r} is not YYYY-MM")
        numbers: dict[str, int] = {}
        for name in ("bookings", "attended"):
            try:
                numbers[name] = int(values[name])
                if numbers[name] < 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{name} {values[name]!r} is not a whole number >= 0")
        if not problems and numbers["attended"] > numbers["bookings"]:
            problems.append("attended is more than bookings")
        key = (values["course_id"], values["agency"], values["month"])
        if not problems and key in seen:
            problems.append(f"repeats line {seen[key]} (same course, agency and month)")
        if problems:
            errors.extend(f"line {line}: {p}" for p in problems)
            continue
        seen[key] = line
        rows.append(BookingRow(*key, numbers["bookings"], numbers["attended"]))
    if errors:
        raise BookingImportError(errors)
    return rows


def import_bookings(session: Session, text: str) -> int:
    """Validate then upsert every row in the caller's transaction. Returns the row count."""
    rows = parse_bookings(text, agencies=set(agency_slugs(session)))
    if not rows:
        return 0
    now = utcnow()
    insert = dialect_insert(session, CourseBooking)
    values = [
        {
            "course_id": r.course_id,
            "agency": r.agency,
            "month": r.month,
            "bookings": r.bookings,
            "attended": r.attended,
            "imported_at": now,
        }
        for r in rows
    ]
    for start in range(0, len(values), 500):  # SQLite's bound-parameter limit
        stmt = insert.values(values[start : start + 500])
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["course_id", "agency", "month"],
                set_={
                    "bookings": stmt.excluded.bookings,
                    "attended": stmt.excluded.attended,
                    "imported_at": stmt.excluded.imported_at,
                },
            )
        )
    return len(rows)
