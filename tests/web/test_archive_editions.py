"""An extra edition in the public archive: served at /archive/YYYY-MM-name/AGENCY once a
message of it went out, listed beside its month."""

from __future__ import annotations

from datetime import date, time

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.lifecycle import transition
from newsletter.models import Bulletin, BulletinStatus, Variant
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.factories import make_delivery, make_subscriber
from tests.plan_factories import make_plan, make_theme

KEY = "2026-07-correction"


def test_a_sent_extra_edition_is_archived_at_its_key_and_listed_beside_its_month(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    correction = make_theme(
        KEY,
        title="Correction: the Safer7 link",
        send_date=date(2026, 7, 16),
        send_time=time(10, 0),
    )
    plan = make_plan(make_theme(), correction)
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        for key in ("2026-07", KEY):
            bulletin = build_bulletin(session, settings, plan, key, clock=clock).bulletin
            health = session.exec(
                select(Variant).where(
                    col(Variant.bulletin_id) == bulletin.id, Variant.agency == "health"
                )
            ).one()
            make_delivery(session, bulletin, make_subscriber(session, agency="health"), health)
            transition(session, bulletin, BulletinStatus.approved, now=clock.now())
            transition(session, bulletin, BulletinStatus.sending, now=clock.now())
            transition(session, bulletin, BulletinStatus.sent, now=clock.now())
        session.commit()
        assert session.exec(select(Bulletin.month).order_by(col(Bulletin.month))).all() == [
            "2026-07",
            KEY,
        ]
    client = TestClient(create_app(settings, engine=engine, clock=clock))

    listing = client.get("/archive")
    page = client.get(f"/archive/{KEY}/health")

    assert f"/archive/{KEY}/health" in listing.text
    assert "/archive/2026-07/health" in listing.text
    assert page.status_code == 200
    assert "Correction: the Safer7 link" in page.text
    assert "Thematic learning bulletin, July 2026 (correction)" in page.text
    assert client.get("/archive/2026-07-Correction/health").status_code == 404
