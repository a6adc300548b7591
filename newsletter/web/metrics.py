"""GET /metrics: Prometheus text format, for a scraper holding NEWSLETTER_METRICS_TOKEN.

Correct under any number of web workers and hosts: every figure about sends, batches, provider
errors, events, webhook batches and scheduler leadership is read from the database when
scraped (the database is the one place they all share), so whichever worker answers, the
answer is the same. Only the event recorder's queue depth and commit latency belong to the
processes that record events; they come from :mod:`newsletter.procmetrics` (summed over this
host's workers in multiprocess mode).

Without a token configured the endpoint answers 404: nothing is exposed by default. A wrong or
missing ``Authorization: Bearer`` header answers 401.
"""

from __future__ import annotations

import hmac
import re
from collections import Counter
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import Engine, distinct, func, select
from sqlmodel import col

from newsletter import procmetrics
from newsletter.config import Settings
from newsletter.db import read_session
from newsletter.models import Bulletin, BulletinStatus, Delivery, DeliveryStatus, Event, EventSource
from newsletter.schedule import leader_present
from newsletter.web.deps import EngineDep, SettingsDep

router = APIRouter()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STATUS = re.compile(r"\b([1-5][0-9][0-9])\b")


def _authorised(request: Request, settings: Settings) -> bool | None:
    """None: no token configured; else whether the request carries it."""
    if settings.metrics_token is None:
        return None
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    expected = settings.metrics_token.get_secret_value()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, settings: SettingsDep, engine: EngineDep) -> Response:
    """Prometheus metrics (Bearer token)."""
    allowed = _authorised(request, settings)
    if allowed is None:
        return PlainTextResponse("Not Found", status_code=404)
    if not allowed:
        return PlainTextResponse(
            "a Bearer token is required", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    body = database_metrics(engine, settings) + procmetrics.render().decode()
    return Response(body, media_type=CONTENT_TYPE)


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return "\n".join(lines) + "\n"


def _label(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{{{name}="{escaped}"}}'


def provider_status(error: str | None) -> str:
    """The HTTP status in a delivery's error text (SendGrid: 500 ...), or ``none``."""
    match = _STATUS.search(error or "")
    return match.group(1) if match else "none"


def database_metrics(engine: Engine, settings: Settings) -> str:
    """The fleet-wide metrics, read (without any write lock) from the database."""
    with read_session(engine) as session:
        bulletins = dict(
            session.execute(
                select(col(Bulletin.status), func.count()).group_by(col(Bulletin.status))
            ).all()
        )
        deliveries = dict(
            session.execute(
                select(col(Delivery.status), func.count()).group_by(col(Delivery.status))
            ).all()
        )
        # A batch's outcome is the status its deliveries ended in (a batch is all one outcome
        # except for per-recipient rejections, which count under each status they reached).
        batches = dict(
            session.execute(
                select(
                    col(Delivery.status),
                    func.count(
                        distinct(col(Delivery.bulletin_id) * 1_000_000 + col(Delivery.batch))
                    ),
                )
                .where(col(Delivery.batch).is_not(None))
                .group_by(col(Delivery.status))
            ).all()
        )
        errors: Counter[str] = Counter()
        for error, n in session.execute(
            select(col(Delivery.error), func.count())
            .where(col(Delivery.status).in_([DeliveryStatus.failed, DeliveryStatus.unknown]))
            .group_by(col(Delivery.error))
        ):
            errors[provider_status(error)] += n
        events = dict(
            session.execute(select(col(Event.type), func.count()).group_by(col(Event.type))).all()
        )
        # One webhook post is stored with one recorded_at for all its events.
        webhook_batches = session.execute(
            select(func.count(distinct(col(Event.recorded_at)))).where(
                col(Event.source) == EventSource.sendgrid
            )
        ).scalar_one()
    leader = leader_present(settings)
    out = [
        _family(
            "newsletter_bulletins",
            "gauge",
            "Bulletins by status (sending: a send is under way or was interrupted).",
            [(_label("status", s.value), bulletins.get(s, 0)) for s in BulletinStatus],
        ),
        _family(
            "newsletter_sends_total",
            "counter",
            "Sends finished (bulletins sent).",
            [("", bulletins.get(BulletinStatus.sent, 0))],
        ),
        _family(
            "newsletter_deliveries",
            "gauge",
            "Deliveries (one per bulletin and recipient) by status.",
            [(_label("status", s.value), deliveries.get(s, 0)) for s in DeliveryStatus],
        ),
        _family(
            "newsletter_batches",
            "gauge",
            "Send batches by outcome (the status their deliveries reached).",
            [(_label("outcome", s.value), batches.get(s, 0)) for s in DeliveryStatus],
        ),
        _family(
            "newsletter_provider_errors",
            "gauge",
            "Failed or unknown deliveries by the provider's HTTP status (none: no status).",
            [(_label("status", k), v) for k, v in sorted(errors.items())],
        ),
        _family(
            "newsletter_events_total",
            "counter",
            "Events recorded (raw, not yet rolled up) by type.",
            [(_label("type", str(k)), v) for k, v in sorted(events.items())],
        ),
        _family(
            "newsletter_webhook_batches_total",
            "counter",
            "SendGrid Event Webhook posts stored (raw events not yet rolled up).",
            [("", webhook_batches)],
        ),
        _family(
            "newsletter_scheduler_leader",
            "gauge",
            "1 while a scheduler holds the leadership lock, 0 when none does.",
            [("", 1 if leader else 0)],
        ),
    ]
    return "".join(out)
