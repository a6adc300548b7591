"""Reading one plan file: YAML with line numbers, and errors that point at the right line.

ruamel.yaml's round-trip loader keeps the line of every key and list entry; :func:`locate` walks
a field path (as pydantic reports it, or as the loader builds it) through the document to find
the line a person should look at. A missing field points at the mapping that lacks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from newsletter.plan.model import PlanError
from newsletter.yamllimits import YamlLimitExceeded, check_size, load_within_limits

Loc = Sequence[str | int]


def read_yaml(data: bytes, display: str) -> tuple[CommentedMap | None, list[PlanError]]:
    """Parse one file's bytes; a document that is not a mapping of fields is an error.

    Limits (:mod:`newsletter.yamllimits`: size, depth, what aliases expand to) are checked
    before anything is built from the file.
    """
    try:
        check_size(data)
    except YamlLimitExceeded as exc:
        return None, [PlanError(display, exc.line, "", exc.message)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, [PlanError(display, None, "", "is not UTF-8 text; save it as UTF-8")]
    try:
        doc = load_within_limits(YAML(typ="rt"), text)
    except YamlLimitExceeded as exc:
        return None, [PlanError(display, exc.line, "", exc.message)]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        return None, [PlanError(display, line, "", f"this is not valid YAML: {problem}")]
    except YAMLError as exc:
        return None, [PlanError(display, None, "", f"this is not valid YAML: {exc}")]
    if doc is None:
        return None, [PlanError(display, 1, "", "the file is empty")]
    if not isinstance(doc, CommentedMap):
        return None, [
            PlanError(display, 1, "", "the file should be a list of fields (name: value)")
        ]
    return doc, []


def to_plain(node: Any) -> Any:
    """The document as plain dicts, lists and scalars (ruamel's string subclasses made str)."""
    if isinstance(node, dict):
        return {str(key): to_plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [to_plain(value) for value in node]
    if isinstance(node, str):
        return str(node)
    return node


def locate(doc: Any, loc: Loc) -> int | None:
    """The 1-based line of the deepest part of ``loc`` that exists in ``doc``."""
    node = doc
    line: int | None = doc.lc.line + 1 if hasattr(doc, "lc") else None
    for step in loc:
        if isinstance(node, CommentedMap) and isinstance(step, str) and step in node:
            line = node.lc.key(step)[0] + 1
            node = node[step]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and 0 <= step < len(node):
            line = node.lc.item(step)[0] + 1
            node = node[step]
        else:
            break
    return line


def field_path(loc: Loc) -> str:
    """``('sections', 2, 'items', 0, 'ref')`` -> ``sections[2].items[0].ref``."""
    out = ""
    for step in loc:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


# pydantic's own wording, said the way a comms officer would understand it.
_PLAIN = {
    "string_type": "should be text",
    "list_type": "should be a list (one '- entry' per line, or [a, b])",
    "dict_type": "should be a group of fields (name: value)",
    "model_type": "should be a group of fields (name: value)",
    "model_attributes_type": "should be a group of fields (name: value)",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "too_short": "needs at least one entry",
}


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        return "is not a field this file can have (check the spelling; see campaigns/README.md)"
    if kind == "value_error":
        ctx = error.get("ctx") or {}
        return str(ctx.get("error", error["msg"]))
    if kind in {"greater_than_equal", "less_than_equal"}:
        return f"should be a whole number from 0 to 60, not {error.get('input')!r}"
    return _PLAIN.get(kind, str(error["msg"]).lower())


def validate(
    model: type[BaseModel], doc: CommentedMap, display: str
) -> tuple[BaseModel | None, list[PlanError]]:
    """Validate ``doc`` against ``model``; every problem as a :class:`PlanError` with its line."""
    try:
        return model.model_validate(to_plain(doc)), []
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            # pydantic adds steps for validator wrappers ("function-after[...]"); drop them.
            loc = [s for s in error["loc"] if isinstance(s, int) or "[" not in s]
            errors.append(PlanError(display, locate(doc, loc), field_path(loc), _message(error)))
        return None, errors
