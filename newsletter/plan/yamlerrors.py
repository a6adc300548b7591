"""YAML mistakes said the way a comms officer can fix them.

A file that does not parse gives one message, at the line and column where the parser gave up,
naming the likely mistake and its fix: a tab used to indent, text with a colon not in quotes,
curly quotes pasted from a word processor, a line indented differently from its neighbours, a
quote never closed, a field written twice. The parser's own words are kept, at the end, for
anything not recognised.

A file that parses can still hold curly quotes around a value (pasted from Word): YAML takes them
as part of the text, so the subject would go out with them; :func:`curly_quote_errors` finds them.
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

CURLY = "“”‘’"  # what Word and Outlook put where a person typed " or '
_OPENING_CURLY = "“‘"


def _line_text(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line] if 0 <= line < len(lines) else ""


def _quoted_suggestion(line_text: str) -> str:
    """``title: ICON: Babies cry`` -> ``title: "ICON: Babies cry"`` (as the person wrote it)."""
    key, sep, value = line_text.strip().lstrip("- ").partition(": ")
    value = value.strip()
    if not sep or not value:
        return 'title: "ICON: Babies cry, you can cope"'
    value = value.replace('"', "'")
    return f'{key}: "{value}"'


def _unclosed_quote(text: str, last: int) -> tuple[int, int] | None:
    """The first line up to ``last`` (0-based) whose value opens a quote it never closes."""
    for number, line in enumerate(text.splitlines()[: last + 1]):
        _key, sep, value = line.strip().lstrip("- ").partition(": ")
        value = (value if sep else line.strip().lstrip("- ")).strip()
        if value[:1] == '"' and (value.count('"') - value.count('\\"')) % 2 == 1:
            return number + 1, line.index('"') + 1
        if value[:1] == "'" and value.count("'") % 2 == 1:
            return number + 1, line.index("'") + 1
    return None


def explain(exc: MarkedYAMLError, text: str) -> tuple[int | None, int | None, str]:
    """(line, column, message) for a parse error in ``text``; 1-based, None when unknown."""
    mark = exc.problem_mark or exc.context_mark
    unclosed = _unclosed_quote(text, mark.line) if mark is not None else None
    if unclosed is not None:
        return (
            unclosed[0],
            unclosed[1],
            (
                "a quote is opened here but never closed: add the closing quote at the end of the "
                "text"
            ),
        )
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    here = _line_text(text, mark.line) if mark is not None else ""
    if "\t" in problem or (mark is not None and "\t" in here[: mark.column + 1]):
        return (
            line,
            column,
            (
                "this line is indented with a tab; YAML needs spaces: replace the tab with spaces "
                "(two for each level, lined up with the lines around it)"
            ),
        )
    if any(q in here for q in CURLY) and "mapping values" in problem:
        return (
            line,
            column,
            (
                "this line has curly quotes (“ ” or ‘ ’), probably pasted from Word; YAML only "
                'understands straight quotes: retype them as " (and put quotes around text that '
                "contains a colon)"
            ),
        )
    if "mapping values are not allowed" in problem:
        return (
            line,
            column,
            (
                "this text contains a colon followed by a space, which YAML reads as a new field: "
                f"put quotes around text that contains a colon, e.g. {_quoted_suggestion(here)}"
            ),
        )
    if "expected <block end>" in problem or "expected <block mapping start>" in problem:
        return (
            line,
            column,
            (
                "this line is not indented like the lines around it: line it up with the other "
                "fields of the same item (each level is two spaces further in than its parent)"
            ),
        )
    if "could not find expected ':'" in problem or "simple key" in context:
        return (
            line,
            column,
            (
                "a line here has no 'name:' where one is expected: add the missing colon, or if "
                "the text goes on from the line above, indent it further or put it all in quotes"
            ),
        )
    if "duplicate key" in problem or "found duplicate key" in str(exc):
        return (
            line,
            column,
            ("this field is written twice in the same item: keep one and delete the other"),
        )
    if "cannot start any token" in problem:
        return (
            line,
            column,
            ("text cannot start with this character in YAML: put quotes around the text"),
        )
    words = " ".join(part for part in (context, problem) if part)
    return line, column, f"this is not valid YAML ({words}); check this line and the one above"


def _walk(node: Any, loc: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            found += _walk(value, (*loc, str(key)))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            found += _walk(value, (*loc, index))
    elif type(node) is str and node[:1] in _OPENING_CURLY:
        # A plain (unquoted) scalar: quoted ones are ruamel subclasses of str, chosen on purpose.
        found.append((loc, node))
    return found


def curly_quoted(doc: CommentedMap) -> list[tuple[tuple[str | int, ...], str]]:
    """Unquoted values that start with a curly quote: (field path, value)."""
    return _walk(doc, ())


def curly_quote_message(value: str) -> str:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return (
        f"{shown!r} starts with a curly quote, probably pasted from Word; it would appear in "
        'the bulletin as typed: use straight quotes "..." around the text, or none'
    )
