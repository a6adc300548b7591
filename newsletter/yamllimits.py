"""Limits on a YAML file, checked before anything is built from it.

A YAML alias (``*name``) stands for the whole value its anchor (``&name``) marks. Nine aliases
of nine aliases of nine... make a 300-byte file stand for hundreds of millions of values (the
"billion laughs"): parsing it is quick, but anything that walks the result (turning it into
plain data, validating it) runs for minutes and takes gigabytes. Deep nesting (``[[[[...``)
makes the YAML composer recurse until Python gives up.

:func:`yaml_problem` reads the file's parse *events* (flat, never expanded, no recursion) and
counts what the file would expand to, so such a file is refused in milliseconds with a plain
message, before the loader builds anything. Ordinary plan files are far inside the limits:
the largest sample theme is about 200 values, 6 deep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    ScalarEvent,
)

MAX_BYTES = 512 * 1024  # one plan file; the largest sample file is under 10 KB
MAX_DEPTH = 32  # lists and groups inside each other
MAX_VALUES = 100_000  # values after every alias is expanded
MAX_ALIASES = 1_000  # aliases written in one file


_BRACKET_RUN = re.compile(r"(?:[\[{]\s*){" + str(MAX_DEPTH + 1) + "}")


@dataclass(frozen=True, slots=True)
class YamlLimitError:
    line: int | None  # 1-based, where the limit was crossed
    message: str


@dataclass(slots=True)
class _Frame:
    anchor: str | None
    values: int = 1  # itself
    depth: int = 1  # itself and the deepest thing inside


def size_problem(data: bytes) -> YamlLimitError | None:
    """A file too large to be a plan file, refused before it is even decoded."""
    if len(data) > MAX_BYTES:
        return YamlLimitError(
            None,
            f"this file is {len(data) // 1024} KB; a file here can be at most "
            f"{MAX_BYTES // 1024} KB (split it into smaller files)",
        )
    return None


def yaml_problem(text: str) -> YamlLimitError | None:
    """Why ``text`` is refused before being loaded (None when it is within every limit).

    Syntax errors are left to the loader, which reports them with its own wording: this
    function returns None when the events stop early because of one.
    """
    # A run of opening brackets is refused before the scanner sees it: with many flow levels
    # open, its look-ahead for keys costs up to a second.
    run = _BRACKET_RUN.search(text)
    if run is not None:
        return YamlLimitError(text.count("\n", 0, run.start()) + 1, _too_deep())
    stack: list[_Frame] = []
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) when expanded
    aliases = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            if isinstance(event, CollectionStartEvent):
                stack.append(_Frame(event.anchor))
                if len(stack) > MAX_DEPTH:
                    return YamlLimitError(line, _too_deep())
                continue
            if isinstance(event, CollectionEndEvent):
                frame = stack.pop()
                if frame.anchor is not None:
                    anchors[frame.anchor] = (frame.values, frame.depth)
                values, depth = frame.values, frame.depth
            elif isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    return YamlLimitError(
                        line, f"this file uses more than {MAX_ALIASES} aliases (*name)"
                    )
                found = anchors.get(str(event.anchor))
                if found is None:
                    if any(frame.anchor == event.anchor for frame in stack):
                        return YamlLimitError(
                            line,
                            f"the alias *{event.anchor} is used inside the value it names, "
                            "which would repeat for ever",
                        )
                    continue  # an unknown alias: the loader says so
                values, depth = found
            elif isinstance(event, ScalarEvent):
                values, depth = 1, 0
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
            else:
                continue
            if not stack:
                continue  # the document itself is complete
            parent = stack[-1]
            parent.values += values
            parent.depth = max(parent.depth, depth + 1)
            if len(stack) - 1 + parent.depth > MAX_DEPTH:
                return YamlLimitError(line, _too_deep())
            if parent.values > MAX_VALUES or sum(f.values for f in stack) > MAX_VALUES:
                return YamlLimitError(
                    line,
                    f"this file stands for more than {MAX_VALUES:,} values (counting what "
                    "each alias *name repeats); write the entries out or split the file",
                )
    except YAMLError:
        return None
    return None


def _too_deep() -> str:
    return (
        f"lists and groups are nested more than {MAX_DEPTH} deep here; "
        "a plan file never needs that many levels"
    )
