"""Reading a subscriber CSV: bytes to checked text lines to records, and the cell formats.

The file-level rules live here (header, delimiter, encoding, binary data: any breach raises
:class:`ImportFileError` naming the line); judging rows and storing them is ``importer``'s.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from newsletter.models import SubscriberStatus

COLUMNS = ("email", "name", "agency", "audiences", "status")
REQUIRED_HEADER = "email,name,agency,audiences"  # what error messages suggest
# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"): = + - @, and a tab
# or carriage return before one of them.
FORMULA_STARTS = "=+-@\t\r"
_SNIFF_BYTES = 8192
MAX_FILE_BYTES = 500_000_000  # a million subscribers is about 60 MB
MAX_LINE_BYTES = (
    1_000_000  # one physical line (a row is under 1 KB; longer cells are rejected by row)
)
MAX_RECORD_LINES = 20  # physical lines one record (a quoted field with line breaks) may span
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_AUDIENCE_SPLIT = re.compile(r"[\s;,/|+&]+")
_AUDIENCE_WORDS: dict[str, tuple[bool, bool]] = {
    "children": (True, False),
    "child": (True, False),
    "adults": (False, True),
    "adult": (False, True),
    "both": (True, True),
    "all": (True, True),
}


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message names the line and the fix."""


def shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def unguard(value: str) -> str:
    """Undo export's guard against spreadsheet formulas (a leading ' before = + - @)."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def parse_audiences(value: str) -> tuple[bool, bool] | None:
    """``children``, ``adults``, ``both`` or a combination; None when blank.

    Raises ValueError naming the words it did not understand.
    """
    words = [w for w in _AUDIENCE_SPLIT.split(value.strip().lower()) if w and w != "and"]
    if not words:
        return None
    unknown = [w for w in words if w not in _AUDIENCE_WORDS]
    if unknown:
        raise ValueError(
            f"audiences {value.strip()!r} not understood: use children, adults or both"
        )
    children = any(_AUDIENCE_WORDS[w][0] for w in words)
    adults = any(_AUDIENCE_WORDS[w][1] for w in words)
    return children, adults


_STATUS_WORDS = {
    "": None,
    "active": None,
    "subscribed": None,
    "unsubscribed": "unsubscribed",
    "opted out": "unsubscribed",
    "opted-out": "unsubscribed",
    "bounced": "bounced",
    "complained": "complained",
    "left": "left",
}


def parse_status(value: str) -> SubscriberStatus | None:
    """The ``status`` cell: blank or ``active`` (None), ``unsubscribed``, ``bounced``,
    ``complained`` or ``left``. Raises ValueError for anything else."""
    word = value.strip().lower()
    if word not in _STATUS_WORDS:
        raise ValueError(
            f"status {value.strip()!r} not understood: use unsubscribed, bounced, complained "
            "or leave it blank"
        )
    found = _STATUS_WORDS[word]
    return None if found is None else SubscriberStatus(found)


def open_csv(source: Path | IO[bytes]) -> IO[bytes]:
    raw: IO[bytes] = source.open("rb") if isinstance(source, Path) else source
    try:
        head = raw.read(_SNIFF_BYTES)
        raw.seek(0)
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc}") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError("the file is UTF-16 text: save the spreadsheet as 'CSV UTF-8'")
    if b"\x00" in head:
        raise ImportFileError("the file holds binary data, not CSV text")
    return raw


class _Lines:
    """The file's lines as text, decoded one by one so a bad byte is blamed on its line.

    Limits are enforced while reading, so memory stays bounded whatever the file holds: a
    line is read at most :data:`MAX_LINE_BYTES` (+1) at a time, the whole file at most
    :data:`MAX_FILE_BYTES`, and one record (a quoted field may span lines) at most
    :data:`MAX_RECORD_LINES` lines, since an unclosed quote would otherwise swallow the rest
    of the file into one field.
    """

    def __init__(self, raw: IO[bytes], max_bytes: int) -> None:
        self.raw = raw
        self.max_bytes = max_bytes
        self.number = 0  # lines read
        self.record_start = 1  # first line of the record being read
        self.total = 0

    def __iter__(self) -> Iterator[str]:
        while True:
            data = self.raw.readline(MAX_LINE_BYTES + 1)
            if not data:
                return
            self.number += 1
            self.total += len(data)
            number = self.number
            if self.total > self.max_bytes:
                raise ImportFileError(
                    f"the file is larger than {_megabytes(self.max_bytes)}; "
                    "split it into smaller files"
                )
            if len(data) > MAX_LINE_BYTES:
                raise ImportFileError(
                    f"line {number}: longer than {MAX_LINE_BYTES:,} bytes; a subscriber "
                    "row is far shorter (is this the right file?)"
                )
            if number - self.record_start >= MAX_RECORD_LINES:
                raise ImportFileError(
                    f"line {self.record_start}: a quoted field runs on for more than "
                    f'{MAX_RECORD_LINES} lines; check for a missing closing quote (")'
                )
            if number == 1 and data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"line {number}: not UTF-8 text; save the spreadsheet as 'CSV UTF-8'"
                ) from None


def read_header(fields: list[str], line: int) -> dict[str, int]:
    names = [f.strip().lower() for f in fields]
    shown = shorten(",".join(fields), 100)
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        sep = "semicolons" if ";" in names[0] else "tabs"
        raise ImportFileError(
            f"line {line}: the columns are separated by {sep}; save the file as CSV with "
            f"commas (header: {REQUIRED_HEADER})"
        )
    if "email" not in names:
        hint = " (it looks like data: add a header row)" if "@" in ",".join(names) else ""
        raise ImportFileError(
            f"line {line}: the first line must be the header {REQUIRED_HEADER}; "
            f"found {shown!r}{hint}"
        )
    unknown = [n for n in names if n and n not in COLUMNS]
    repeated = {n for n in names if n and names.count(n) > 1}
    if unknown or repeated:
        what = f"unknown column(s) {', '.join(unknown)}" if unknown else ""
        what += ("; " if what else "") + (
            f"repeated column(s) {', '.join(sorted(repeated))}" if repeated else ""
        )
        raise ImportFileError(f"line {line}: {what}; the columns are {REQUIRED_HEADER}")
    return {n: i for i, n in enumerate(names) if n in COLUMNS}


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def records(raw: IO[bytes], *, max_bytes: int = MAX_FILE_BYTES) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) of every non-blank CSV record; file errors raised, among
    them a file longer than ``max_bytes``."""
    lines = _Lines(raw, max_bytes)
    reader = csv.reader(lines, strict=True)
    line = 0
    while True:
        start = line + 1
        lines.record_start = start
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"line {start}: not readable as CSV: {exc}") from None
        line = reader.line_num
        if any(_CONTROL.search(f) for f in fields):
            raise ImportFileError(f"line {start}: the file holds binary data, not CSV text")
        if any(f.strip() for f in fields):
            yield start, fields
