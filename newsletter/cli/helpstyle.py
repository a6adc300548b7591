"""Help screens that read like other command-line tools: ``newsletter bulletin send MONTH``.

Typer 0.2x shows every parameter's Python type (``<bool>`` beside a flag, ``<str>`` beside an
argument) and wraps required arguments in braces (``{month}``), which read as placeholders to
fill in. Here: arguments are upper case (``MONTH``, ``[PATH]``), flags show nothing after
them, options show their metavar (``--out FILE``) or their choices (``table|csv|json|html``).

Only typer's help rendering is changed, by replacing three display methods; a typer that no
longer has them is left alone (the help is then typer's own).
"""

from __future__ import annotations

from typing import Any

from typer import core

_BARE = {"<str>", "<int>", "<float>", "<path>", "<bool>", "<file>", "<datetime>"}


def _argument_name(param: Any) -> str:
    return str(param.metavar) if param.metavar is not None else str(param.name).upper()


def _argument_usage(self: Any) -> str:
    name = _argument_name(self)
    if not self.required:
        name = f"[{name}]"
    return name + ("..." if self.nargs != 1 else "")


def _argument_column(self: Any) -> str:
    return _argument_name(self) + ("..." if self.metavar is None and self.nargs != 1 else "")


def _argument_type(self: Any, ctx: Any) -> str | None:
    return None  # the upper-case name already says what to write


def _option_type(self: Any, ctx: Any) -> str | None:
    if self.is_flag:
        return None
    if self.metavar is not None:
        return str(self.metavar)
    label = str(self.display_type(ctx))
    if label in _BARE or not (label.startswith("<") and label.endswith(">")):
        return str(self.name).upper()
    return label[1:-1]  # choices: table|csv|json|html


def install() -> None:
    """Use these help names for every typer command in this process (idempotent)."""
    argument, option = core.TyperArgument, core.TyperOption
    wanted = (
        (argument, "_usage_display_name", _argument_usage),
        (argument, "_rich_display_name", _argument_column),
        (argument, "display_type_rich", _argument_type),
        (option, "display_type_rich", _option_type),
    )
    if all(hasattr(cls, name) for cls, name, _ in wanted):
        for cls, name, function in wanted:
            setattr(cls, name, function)
