"""NEWSLETTER_LOG_FORMAT=json: one JSON object per line, carrying the ids of what it is about."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from newsletter.logs import JsonFormatter, TextFormatter, _ContextFilter, log_context
from tests.conftest import make_settings


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(_ContextFilter())
    logger = logging.getLogger(f"test-logs-{id(stream)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_json_line_carries_the_bulletin_batch_and_delivery_ids_in_context() -> None:
    logger, stream = capture(JsonFormatter())
    with log_context(bulletin_id=3, month="2026-07"), log_context(batch=12):
        logger.info("batch %d sent", 12)
    logger.warning("outside", extra={"delivery_id": 99})
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "batch 12 sent"
    assert (first["bulletin_id"], first["month"], first["batch"]) == (3, "2026-07", 12)
    assert first["level"] == "INFO"
    assert "delivery_id" not in first
    assert second["delivery_id"] == 99
    assert "bulletin_id" not in second  # the context ended with its block


def test_a_text_line_names_the_ids_at_its_end() -> None:
    logger, stream = capture(TextFormatter())
    with log_context(bulletin_id=3, batch=12):
        logger.info("sent")
    assert stream.getvalue().rstrip().endswith("sent [bulletin_id=3 batch=12]")


def test_the_log_format_setting_accepts_text_and_json_only(tmp_path: Path) -> None:
    import pytest
    from pydantic import ValidationError

    assert make_settings(tmp_path, log_format="json").log_format == "json"
    with pytest.raises(ValidationError):
        make_settings(tmp_path, log_format="xml")
