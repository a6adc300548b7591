"""The one Jinja environment factory: web pages, the HTML report and the bulletins.

Every environment is made the same way: templates from one directory, HTML autoescaped (plain
text and CSS templates are not), and ``StrictUndefined``, so that a value missing from the
context is an error at render time rather than an empty string in a page or an email. What
differs per caller is passed in: the directory, and the whitespace options the email templates
need (``trim_blocks`` and friends keep a text part's line breaks where the designer put them).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = ["TEXT_EXTENSIONS", "make_environment"]

# Template names ending so are plain text or CSS: never HTML-escaped.
TEXT_EXTENSIONS = ("txt", "txt.j2", "css")


def make_environment(
    directory: Path,
    *,
    filters: dict[str, Callable[..., Any]] | None = None,
    email_whitespace: bool = False,
) -> Environment:
    """An environment over the templates in ``directory``.

    ``email_whitespace``: trim block tags' newlines and keep a template's trailing newline
    (the bulletins' text parts); ``filters`` are added by name.
    """
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(
            disabled_extensions=TEXT_EXTENSIONS, default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=email_whitespace,
        lstrip_blocks=email_whitespace,
        keep_trailing_newline=email_whitespace,
    )
    env.filters.update(filters or {})
    return env
