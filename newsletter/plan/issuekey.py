"""Issue keys: the name of one bulletin.

A month's bulletin is named by its month, ``YYYY-MM``. A month may also carry extra editions
(an urgent briefing, a correction), each named by its month and a short slug:
``YYYY-MM-<slug>``, e.g. ``2026-07-correction`` or ``2026-07-urgent-briefing``. The slug is
lower-case letters, digits and hyphens, 1 to 40 characters, and starts with a letter (so a key
never reads as a date like ``2026-07-15``).

The key is what the plan's theme file is named after (``themes/2026-07-correction.yaml``), what
``bulletin.month`` holds, what the staff pages' URLs and the command line take. Whatever groups
or dates bulletins by calendar month asks :func:`calendar_month`; whatever shows a key to a
person asks :func:`key_label`. Keys sort as text in the order people expect: a month, then its
extras by slug, then the next month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

EDITION_MAX = 40
MONTH_PATTERN = r"\d{4}-(?:0[1-9]|1[0-2])"
EDITION_PATTERN = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
KEY_PATTERN = rf"{MONTH_PATTERN}(?:-{EDITION_PATTERN})?"
# Anchored at both ends (\Z: "$" would let a trailing newline through); route and query
# patterns use the *_PATTERN strings.
MONTH_ONLY_RE = re.compile(rf"\A{MONTH_PATTERN}\Z")
EDITION_RE = re.compile(rf"\A{EDITION_PATTERN}\Z")
KEY_RE = re.compile(rf"\A{KEY_PATTERN}\Z")
KEY_MAX = 7 + 1 + EDITION_MAX  # the longest key: bulletin.month is this wide

KEY_ADVICE = (
    "write it as YYYY-MM for a month's bulletin (e.g. 2026-07) or YYYY-MM-name for an extra "
    "edition (e.g. 2026-07-correction)"
)


@dataclass(frozen=True, order=True)
class IssueKey:
    """A bulletin's name taken apart: its calendar month and, for an extra, its edition."""

    month: str  # "2026-07"
    edition: str = ""  # "" for the month's own bulletin; "correction" for an extra

    @property
    def key(self) -> str:
        return f"{self.month}-{self.edition}" if self.edition else self.month

    @property
    def is_extra(self) -> bool:
        return bool(self.edition)

    @property
    def label(self) -> str:
        """'July 2026', or 'July 2026 (urgent briefing)' for an extra edition."""
        year, mon = int(self.month[:4]), int(self.month[5:7])
        name = f"{date(year, mon, 1):%B %Y}"
        return f"{name} ({self.edition.replace('-', ' ')})" if self.edition else name

    def __str__(self) -> str:
        return self.key


def edition_problem(slug: str) -> str | None:
    """Why ``slug`` cannot name an extra edition (None when it can), in words that follow
    "The short name": "The short name is empty; ..."."""
    if not slug:
        return "is empty; give the edition a short name, e.g. correction or urgent-briefing"
    if len(slug) > EDITION_MAX:
        return f"is {len(slug)} characters long; keep an edition's name to {EDITION_MAX}"
    if not EDITION_RE.match(slug):
        return (
            "may use only lower-case letters, digits and single hyphens, and starts with a "
            "letter, e.g. correction or urgent-briefing"
        )
    return None


def parse_key(value: str) -> IssueKey:
    """``value`` taken apart; ValueError (plain words) when it names no bulletin."""
    if not isinstance(value, str) or not KEY_RE.match(value):
        raise ValueError(f"{str(value)!r} is not a month; {KEY_ADVICE}")
    month, edition = value[:7], value[8:]
    if len(edition) > EDITION_MAX:
        raise ValueError(f"{value!r}: an extra edition's name is at most {EDITION_MAX} characters")
    return IssueKey(month, edition)


def is_key(value: str) -> bool:
    try:
        parse_key(value)
    except ValueError:
        return False
    return True


def make_key(month: str, edition: str = "") -> str:
    """The key of ``month``'s bulletin, or of its extra ``edition``; ValueError when invalid."""
    if not MONTH_ONLY_RE.match(month):
        raise ValueError(f"{month!r} is not a month; write it as YYYY-MM, e.g. 2026-07")
    if edition:
        problem = edition_problem(edition)
        if problem is not None:
            raise ValueError(f"the edition name {edition!r} {problem}")
    return IssueKey(month, edition).key


def calendar_month(key: str) -> str:
    """The calendar month (``YYYY-MM``) a bulletin belongs to: its figures count there."""
    return parse_key(key).month


def is_extra(key: str) -> bool:
    return parse_key(key).is_extra


def key_label(key: str) -> str:
    """How a person reads the key: 'July 2026' or 'July 2026 (correction)'."""
    try:
        return parse_key(key).label
    except ValueError:
        return key


def next_key_bound(month: str) -> str:
    """The first key after every key of calendar ``month`` ('2026-07' -> '2026-08'): a query
    for a range of months ending with ``month`` asks for keys below it."""
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon  # the next month, zero-based
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
