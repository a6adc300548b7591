"""Which characters text from outside may hold, in one place for every way in.

Names, subjects and other one-line values end up in email headers (``To:``, ``Subject:``), in
CSV exports and on web pages. A line break in such a value is how a header is forged (``Jo\\r\\n
Bcc: ...``); other control characters, Unicode line and paragraph separators and bidirectional
overrides garble or disguise what a reader sees. So they are refused where text enters (CSV
import, the plan, sign-up and the API call :func:`control_problem`), and, for anything stored
before these rules existed, flattened by :func:`one_line` before a transport ever sees it.

Markdown and other multi-line text may hold line breaks and tabs, nothing else of the above.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL, Unicode line/paragraph separators, and the bidirectional
# embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069) that reorder what is shown.
_FORBIDDEN = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_ONE_LINE = re.compile(f"[{_FORBIDDEN}]")
_MULTI_LINE_ALLOWED = frozenset("\t\n\r")
_FLATTEN = re.compile(f"[{_FORBIDDEN}]+")


def _describe(char: str) -> str:
    if char in "\r\n\u2028\u2029":
        return "a line break"
    if char == "\t":
        return "a tab"
    return f"a control character U+{ord(char):04X}"


def control_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored, in plain words (None when it can).

    One-line values (names, subjects, titles, header values) may hold no control character at
    all; ``multiline`` text (Markdown) may also hold line breaks and tabs.
    """
    for match in _ONE_LINE.finditer(value):
        char = match.group()
        if multiline and char in _MULTI_LINE_ALLOWED:
            continue
        if multiline:
            return f"holds {_describe(char)}; remove it"
        return f"holds {_describe(char)}; it must be one line of plain text"
    return None


def one_line(value: str) -> str:
    """``value`` with every run of forbidden characters made one space: the last line of
    defence before a header is written (entry points refuse such text in the first place)."""
    if value.isprintable() or _ONE_LINE.search(value) is None:
        return value
    return _FLATTEN.sub(" ", value).strip()
