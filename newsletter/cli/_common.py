"""What every command shares: settings, the database, the console and error reporting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.config import Settings, get_settings
from newsletter.db import SchemaNotCurrent, engine_from_settings, ensure_schema

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def month_arg(value: str) -> str:
    """Validate a MONTH argument (YYYY-MM)."""
    if not MONTH_RE.match(value):
        raise typer.BadParameter(f"{value!r} is not a month; write it as YYYY-MM, e.g. 2026-07")
    return value


def load_settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:  # pydantic ValidationError: show it plainly, not as a traceback
        fail(f"bad configuration: {exc}")


def open_engine(settings: Settings, *, migrate_first: bool = True) -> Engine:
    """The database engine, its schema checked first (``db.ensure_schema``: the embedded SQLite
    default migrates itself; PostgreSQL must have been migrated by ``newsletter migrate``)."""
    if migrate_first:
        try:
            ensure_schema(settings.resolved_database_url)
        except SchemaNotCurrent as exc:
            fail(str(exc))
    return engine_from_settings(settings)


@contextmanager
def session_for(settings: Settings) -> Iterator[Session]:
    engine = open_engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()
