"""Logging set-up for every entry point: plain text for people, or JSON lines for a collector.

``NEWSLETTER_LOG_FORMAT=json`` writes one JSON object per line: time (UTC, ISO 8601), level,
logger, message, the process id, and the ids of what the line is about (``bulletin_id``,
``month``, ``batch``, ``delivery_id``) whenever the code logging it works on one. Code names
what it works on with :func:`log_context` (a context variable, so it follows threads started
inside it only when they copy the context) or passes the ids in ``extra=``; either way they
end up as fields of the JSON line, and as a ``[bulletin_id=3 batch=12]`` suffix in text.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

from newsletter.config import Settings

CONTEXT_FIELDS = ("bulletin_id", "month", "batch", "delivery_id")
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "newsletter_log_context", default=None
)


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Every log line written inside carries these ids (nested contexts add to them)."""
    current = _context.get() or {}
    token = _context.set(current | {k: v for k, v in ids.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    """Copies the current log context onto each record (``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The usual text line, with the ids of what it is about at the end."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = [
            f"{name}={getattr(record, name)}"
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        if not ids:
            return text
        head, newline, rest = text.partition("\n")
        return f"{head} [{' '.join(ids)}]{newline}{rest}"


def configure_logging(settings: Settings, *, level: int = logging.INFO) -> None:
    """Set up the root logger once per process, in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Migrations and APScheduler say a line per step or tick; keep what matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """Uvicorn's logging in the same format (its access log included)."""
    formatter = "newsletter.logs.JsonFormatter" if settings.log_format == "json" else None
    fmt: dict[str, Any] = (
        {"()": formatter} if formatter else {"()": "newsletter.logs.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": fmt},
        "filters": {"context": {"()": "newsletter.logs._ContextFilter"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "filters": ["context"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["default"], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "INFO"},
    }
