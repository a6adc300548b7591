"""POST /webhooks/sendgrid: SendGrid's signed Event Webhook.

Answers: 403 (nothing stored) when no public key is configured (unless verification is turned
off deliberately with NEWSLETTER_SENDGRID_WEBHOOK_VERIFY=false), when the signature is missing
or bad, or when NEWSLETTER_SENDGRID_WEBHOOK_MAX_AGE > 0 and the signed timestamp is older (or
further in the future) than that many seconds; 400 (nothing stored) for a body that is not a
JSON array of objects; 413 for a body over MAX_BODY_BYTES, refused while it streams in (before
any signature check: memory stays bounded whatever an unauthenticated client sends); 200 once
the batch is committed. Signature checks and JSON parsing run in a worker thread. A database
error answers 500 so that SendGrid retries; de-duplication makes the retry harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from newsletter.config import Settings, TrackingMode
from newsletter.db import session_scope
from newsletter.tracking import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MalformedEvents,
    StoreResult,
    parse_events,
    store_events,
    verify_signature,
)
from newsletter.web.deps import ClockDep, EngineDep, SettingsDep

log = logging.getLogger(__name__)

router = APIRouter()

# SendGrid posts at most ~768 KB per batch; anything far larger is not SendGrid.
MAX_BODY_BYTES = 8 * 1024 * 1024


def _refuse(reason: str) -> JSONResponse:
    return JSONResponse({"detail": reason}, status_code=403)


def _check_signature(settings: Settings, request: Request, raw: bytes, now: float) -> str | None:
    """Why the post must be refused, or None when it may be processed."""
    if not settings.sendgrid_webhook_verify:
        return None
    key = settings.sendgrid_webhook_public_key
    if not key:
        log.warning(
            "refused a SendGrid webhook post: NEWSLETTER_SENDGRID_WEBHOOK_PUBLIC_KEY is not set "
            "(set it to the webhook's verification key, or NEWSLETTER_SENDGRID_WEBHOOK_VERIFY=false "
            "to accept unsigned posts deliberately)"
        )
        return "webhook verification key not configured"
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    if not verify_signature(key, payload=raw, signature=signature, timestamp=timestamp):
        log.warning("refused a SendGrid webhook post with a missing or bad signature")
        return "bad signature"
    max_age = settings.sendgrid_webhook_max_age
    if max_age > 0:
        assert timestamp is not None  # verified above
        try:
            age = abs(now - int(timestamp))
        except ValueError:
            return "bad timestamp"
        if age > max_age:
            log.warning("refused a SendGrid webhook post signed %d s away from now", age)
            return "timestamp too old"
    return None


def _store(
    engine: Engine, events: list[dict[str, Any]], mode: TrackingMode, now: datetime
) -> StoreResult:
    with session_scope(engine) as session:
        return store_events(session, events, mode=mode, now=now)


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, read as it streams in; None as soon as it passes ``limit`` bytes (a
    declared Content-Length over the limit is refused before reading anything). Memory stays
    within ``limit`` whatever is sent, chunked or not."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _verify_and_parse(
    settings: Settings, request: Request, raw: bytes, now: float
) -> tuple[str | None, list[dict[str, Any]] | MalformedEvents]:
    """Signature check, then JSON: CPU work, run in a worker thread, off the event loop."""
    refusal = _check_signature(settings, request, raw, now)
    if refusal is not None:
        return refusal, []
    try:
        return None, parse_events(raw)
    except MalformedEvents as exc:
        return None, exc


@router.post("/webhooks/sendgrid", include_in_schema=False)
async def sendgrid_events(
    request: Request, settings: SettingsDep, engine: EngineDep, clock: ClockDep
) -> JSONResponse:
    """Store a verified batch of SendGrid events (de-duplicated by sg_event_id)."""
    raw = await read_capped(request, MAX_BODY_BYTES)
    if raw is None:
        return JSONResponse({"detail": "body too large"}, status_code=413)
    now = clock.now()
    refusal, events = await run_in_threadpool(
        _verify_and_parse, settings, request, raw, now.timestamp()
    )
    if refusal is not None:
        return _refuse(refusal)
    if isinstance(events, MalformedEvents):
        return JSONResponse({"detail": str(events)}, status_code=400)
    result = await run_in_threadpool(_store, engine, events, settings.tracking, now)
    log.info(
        "SendGrid webhook: %d events, %d new, %d matching no delivery",
        result.received,
        result.stored,
        result.unmatched,
    )
    return JSONResponse(
        {"received": result.received, "stored": result.stored, "unmatched": result.unmatched}
    )
