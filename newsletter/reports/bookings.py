"""Importing course bookings and attendance exported from a learning management system.

The CSV has a header naming the columns ``course_id, agency, month, bookings, attended``
(in any order; extra columns are ignored). Like the subscriber import, every bad row is
reported by its line number and left out, and the good rows are imported (a file without the
required columns imports nothing). A course id must be a course the partnership knows: one in
the current plan's catalogue, or one a bulletin has linked to. Rows are upserted on (course id,
agency, month), so a corrected export can be imported again.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlmodel import Session, col, select

from newsletter.agencies import agency_slugs
from newsletter.db import dialect_insert
from newsletter.models import CourseBooking, Link, LinkKind, utcnow

REQUIRED = ("course_id", "agency", "month", "bookings", "attended")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class BookingImportError(ValueError):
    """The file cannot be read at all; ``errors`` lists ``line N: message`` for each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class BookingImport:
    """What an import did: rows written, and each rejected row as ``line N: message``."""

    imported: int
    rejected: list[str]


@dataclass(frozen=True)
class BookingRow:
    course_id: str
    agency: str
    month: str
    bookings: int
    attended: int


def parse_bookings(
    text: str, *, agencies: Collection[str], courses: Collection[str]
) -> tuple[list[BookingRow], list[str]]:
    """The good rows, and ``line N: message`` for each problem of the others.

    Raises :class:`BookingImportError` when the header lacks a required column."""
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
        elif values["course_id"] not in courses:
            close = difflib.get_close_matches(values["course_id"], list(courses), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"unknown course {values['course_id']!r}{hint}: not a course in the plan's "
                "catalogue or in any bulletin"
            )
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
    return rows, errors


def known_courses(session: Session, catalogue: Collection[str] = ()) -> set[str]:
    """Course ids bookings may name: ``catalogue`` (the plan's courses) and every course a
    bulletin has linked to (a course since retired from the catalogue keeps its history)."""
    linked = session.exec(
        select(col(Link.catalogue_id))
        .where(col(Link.kind) == LinkKind.course, col(Link.catalogue_id).is_not(None))
        .distinct()
    ).all()
    return set(catalogue) | {c for c in linked if c}


def import_bookings(
    session: Session, text: str, *, catalogue: Collection[str] = ()
) -> BookingImport:
    """Validate every row, upsert the good ones in the caller's transaction, report the rest.

    ``catalogue``: the course ids of the current plan (see :func:`known_courses`)."""
    rows, rejected = parse_bookings(
        text, agencies=set(agency_slugs(session)), courses=known_courses(session, catalogue)
    )
    if not rows:
        return BookingImport(0, rejected)
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
    return BookingImport(len(rows), rejected)
