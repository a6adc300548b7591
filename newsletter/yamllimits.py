"""Limits on a YAML file, checked before anything is built from it.

A YAML alias (``*name``) stands for the whole value its anchor (``&name``) marks. Nine aliases
of nine aliases of nine... make a 300-byte file stand for hundreds of millions of values (the
"billion laughs"): parsing it is quick, but anything that walks the result (turning it into
plain data, validating it) runs for minutes and takes gigabytes. Deep nesting (``[[[[...``)
makes the YAML composer and constructor recurse until Python gives up.

:func:`load_within_limits` parses the file into YAML's node graph, in which an alias is the
very node its anchor marks, so what the file *would* expand to is counted once per distinct
node (never expanded). Only a file within every limit is then built into data. Such a file is
refused in milliseconds with a plain message. Ordinary plan files are far inside the limits:
the largest sample theme is about 200 values, 6 deep.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 512 * 1024  # one plan file; the largest sample file is under 10 KB
MAX_DEPTH = 32  # lists and groups inside each other
MAX_VALUES = 100_000  # values after every alias is expanded
MAX_ALIASES = 1_000  # aliases written in one file

# A run of opening brackets is refused before the scanner sees it: with many flow levels open,
# its look-ahead for keys costs up to a second.
_BRACKET_RUN = re.compile(r"(?:[\[{]\s*){" + str(MAX_DEPTH + 1) + "}")


class YamlLimitExceeded(ValueError):
    """The file is beyond a limit; ``line`` (1-based) is where, when known."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def check_size(data: bytes) -> None:
    """A file too large to be a plan file, refused before it is even decoded."""
    if len(data) > MAX_BYTES:
        raise YamlLimitExceeded(
            None,
            f"this file is {len(data) // 1024} KB; a file here can be at most "
            f"{MAX_BYTES // 1024} KB (split it into smaller files)",
        )


def load_within_limits(yaml: YAML, text: str) -> Any:
    """``yaml.load(text)``, but refusing with :class:`YamlLimitExceeded` a document that nests
    too deep or stands for too many values (through aliases) before building anything from it.
    YAML syntax errors are raised as ruamel raises them."""
    run = _BRACKET_RUN.search(text)
    if run is not None:
        raise YamlLimitExceeded(text.count("\n", 0, run.start()) + 1, _TOO_DEEP)
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_flow_depth(text)
    try:
        root = yaml.compose(text)
    except RecursionError:
        raise YamlLimitExceeded(None, _TOO_DEEP) from None
    if root is None:
        return None
    _check_graph(root)
    return yaml.constructor.construct_document(root)


_TOO_DEEP = (
    f"lists and groups are nested more than {MAX_DEPTH} deep here; "
    "a plan file never needs that many levels"
)


def _check_flow_depth(text: str) -> None:
    """Deep ``[a, [b, [c, ...`` nesting, found from the parser's flat events before the
    composer recurses into it (which would cost seconds before Python's recursion limit)."""
    depth = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise YamlLimitExceeded(mark.line + 1 if mark else None, _TOO_DEEP)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except YAMLError:
        return  # the loader reports syntax errors in its own words


def _line(node: Node) -> int | None:
    mark = node.start_mark
    return mark.line + 1 if mark is not None else None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_graph(root: Node) -> None:
    """Expanded size and depth of every distinct node, each counted once (post-order, no
    recursion); aliases are edges to a node already seen."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) when expanded
    open_ids: set[int] = set()
    aliases = 0
    # (node, its children, next child index, values so far, deepest child so far)
    stack: list[tuple[Node, list[Node], int, int, int]] = [(root, _children(root), 0, 1, 0)]
    open_ids.add(id(root))
    while stack:
        node, children, index, values, depth = stack[-1]
        if index < len(children):
            child = children[index]
            stack[-1] = (node, children, index + 1, values, depth)
            key = id(child)
            if key in open_ids:
                raise YamlLimitExceeded(
                    _line(child),
                    f"the alias *{child.anchor or ''} is used inside the value it names, "
                    "which would repeat for ever",
                )
            if key in done:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise YamlLimitExceeded(
                        _line(child), f"this file uses more than {MAX_ALIASES} aliases (*name)"
                    )
                child_values, child_depth = done[key]
                _, _, i, v, d = stack[-1]
                stack[-1] = (node, children, i, v + child_values, max(d, child_depth))
                if len(stack) + child_depth > MAX_DEPTH:
                    raise YamlLimitExceeded(_line(child), _TOO_DEEP)
                continue
            grand = _children(child)
            if grand and len(stack) + 1 > MAX_DEPTH:
                raise YamlLimitExceeded(_line(child), _TOO_DEEP)
            open_ids.add(key)
            stack.append((child, grand, 0, 1, 0))
            continue
        stack.pop()
        open_ids.discard(id(node))
        own_depth = depth + 1 if children else 0
        if values > MAX_VALUES:
            raise YamlLimitExceeded(
                _line(node),
                f"this file stands for more than {MAX_VALUES:,} values (counting what "
                "each alias *name repeats); write the entries out or split the file",
            )
        done[id(node)] = (values, own_depth)
        if stack:
            parent, siblings, i, v, d = stack[-1]
            stack[-1] = (parent, siblings, i, v + values, max(d, own_depth))
