"""What every command shares: settings, the database, the console and error reporting.

Start-up time matters here: ``newsletter --help`` and light commands must not pay for the
database, pydantic or the assembly pipeline. So this module and every command module import
only typer and rich at the top; each command imports what it needs when it runs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlmodel import Session

    from newsletter.config import Settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BULLETIN_HELP = "The bulletin: its month (YYYY-MM) or an extra edition (YYYY-MM-name)."


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` as one line (never wrapped: it may be grepped or logged) and exit."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def month_arg(value: str) -> str:
    """Validate a MONTH argument (YYYY-MM): a calendar month, as in a report's range."""
    if not MONTH_RE.match(value):
        raise typer.BadParameter(f"{value!r} is not a month; write it as YYYY-MM, e.g. 2026-07")
    return value


def bulletin_arg(value: str) -> str:
    """Validate a BULLETIN argument: an issue key, YYYY-MM for a month's bulletin or
    YYYY-MM-<edition> for an extra edition of that month (2026-07-correction)."""
    from newsletter.plan import parse_key  # lazily: `newsletter --help` stays quick

    try:
        return parse_key(value).key
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def load_settings(**overrides: object) -> Settings:
    from newsletter.config import get_settings
    from newsletter.logs import configure_logging

    try:
        settings = get_settings(**overrides)
    except Exception as exc:  # pydantic ValidationError: show it plainly, not as a traceback
        fail(f"bad configuration: {exc}")
    if settings.log_format == "json":  # text lines are main()'s default already
        configure_logging(settings, level=logging.WARNING)
    return settings


def open_engine(settings: Settings, *, migrate_first: bool = True) -> Engine:
    """The database engine, its schema checked first (``db.ensure_schema``: the embedded SQLite
    default migrates itself; PostgreSQL must have been migrated by ``newsletter migrate``)."""
    from newsletter.db import SchemaNotCurrent, engine_from_settings, ensure_schema

    if migrate_first:
        try:
            ensure_schema(settings.resolved_database_url)
        except SchemaNotCurrent as exc:
            fail(str(exc))
    return engine_from_settings(settings)


@contextmanager
def session_for(settings: Settings) -> Iterator[Session]:
    from sqlmodel import Session

    engine = open_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()
