"""GET /metrics: Bearer-token protected Prometheus text, figures read from the database."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import BulletinStatus, DeliveryStatus, EventSource, EventType
from newsletter.schedule.leader import leadership_for
from newsletter.web.app import create_app
from newsletter.web.metrics import provider_status
from tests.conftest import make_settings
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_event,
    make_subscriber,
    make_variant,
)

TOKEN = "metrics-token-0123456789"


def client_for(settings: Settings, engine: Engine, clock: FakeClock) -> TestClient:
    return TestClient(create_app(settings, engine=engine, clock=clock))


def with_token(settings: Settings, tmp_path: Path) -> Settings:
    return make_settings(tmp_path, database_url=settings.resolved_database_url, metrics_token=TOKEN)


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_without_a_configured_token_metrics_are_not_there(
    settings: Settings, engine: Engine, clock: FakeClock
) -> None:
    with client_for(settings, engine, clock) as client:
        assert client.get("/metrics").status_code == 404


def test_a_missing_or_wrong_bearer_token_is_refused(
    settings: Settings, engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    with client_for(with_token(settings, tmp_path), engine, clock) as client:
        missing = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert [r.status_code for r in (missing, wrong, basic)] == [401, 401, 401]
    assert missing.headers["www-authenticate"] == "Bearer"


def test_metrics_count_sends_batches_provider_errors_and_events_from_the_database(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock, tmp_path: Path
) -> None:
    bulletin = make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
    variant = make_variant(session, bulletin, agency="health")
    people = [make_subscriber(session, agency="health") for _ in range(4)]
    sent = make_delivery(session, bulletin, people[0], variant, status=DeliveryStatus.sent, batch=1)
    make_delivery(session, bulletin, people[1], variant, status=DeliveryStatus.sent, batch=1)
    make_delivery(
        session, bulletin, people[2], variant,
        status=DeliveryStatus.failed, batch=2, error="SendGrid: 500 Internal Server Error",
    )  # fmt: skip
    make_delivery(
        session, bulletin, people[3], variant,
        status=DeliveryStatus.unknown, batch=3, error="SendGrid timed out",
    )  # fmt: skip
    make_event(session, sent, type=EventType.click)
    make_event(session, sent, type=EventType.open)
    make_event(session, sent, type=EventType.delivered, source=EventSource.sendgrid)
    session.commit()
    with client_for(with_token(settings, tmp_path), engine, clock) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)
    assert got['newsletter_bulletins{status="sent"}'] == 1
    assert got["newsletter_sends_total"] == 1
    assert got['newsletter_deliveries{status="sent"}'] == 2
    assert got['newsletter_batches{outcome="sent"}'] == 1
    assert got['newsletter_batches{outcome="failed"}'] == 1
    assert got['newsletter_provider_errors{status="500"}'] == 1
    assert got['newsletter_provider_errors{status="none"}'] == 1
    assert got['newsletter_events_total{type="click"}'] == 1
    assert got["newsletter_webhook_batches_total"] == 1
    assert got["newsletter_scheduler_leader"] == 0
    assert "newsletter_recorder_commit_seconds_bucket" in response.text


def test_the_leader_metric_is_one_while_a_scheduler_leads(
    settings: Settings, engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    configured = with_token(settings, tmp_path)
    leadership = leadership_for(configured)
    assert leadership.try_acquire()
    try:
        with client_for(configured, engine, clock) as client:
            response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        leadership.release()
    assert samples(response.text)["newsletter_scheduler_leader"] == 1


def test_a_provider_status_is_read_from_the_error_text() -> None:
    assert provider_status("SendGrid: 429 Too Many Requests") == "429"
    assert provider_status("SendGrid answered 503") == "503"
    assert provider_status("connection reset") == "none"
    assert provider_status(None) == "none"
