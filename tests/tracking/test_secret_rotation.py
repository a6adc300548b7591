"""Rotating SECRET_KEY: links in emails already sent keep working, new ones use the new key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.tokens import delivery_token, parse_token
from newsletter.web.app import create_app
from tests.conftest import TEST_SECRET, make_settings
from tests.tracking.test_web import BROWSER, events, sent_bulletin

NEW_SECRET = "a-brand-new-secret-key-9876543210"
OLDEST_SECRET = "the-oldest-secret-key-555555555555"


def rotated(settings: Settings, tmp_path: Path, previous: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url=settings.resolved_database_url,
        secret_key=NEW_SECRET,
        secret_key_previous=previous,
    )


def test_previous_keys_are_read_comma_separated_with_the_current_key_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY_PREVIOUS", f"{TEST_SECRET}, {OLDEST_SECRET}")
    settings = make_settings(tmp_path, secret_key=NEW_SECRET)
    assert settings.verification_keys == (
        NEW_SECRET.encode(),
        TEST_SECRET.encode(),
        OLDEST_SECRET.encode(),
    )
    assert settings.secret == NEW_SECRET.encode()  # new links are signed with the new key only


def test_a_placeholder_previous_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="previous key"):
        make_settings(tmp_path, secret_key_previous="changeme")


def test_a_link_sent_before_the_rotation_still_redirects_and_counts(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock, tmp_path: Path
) -> None:
    sent = sent_bulletin(session, clock, settings.secret)  # signed with the old key
    clock.advance(timedelta(hours=1))
    new = rotated(settings, tmp_path, f"{OLDEST_SECRET},{TEST_SECRET}")
    app = create_app(new, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        old_link = client.get(f"/c/{sent.token}/{sent.course.id}")
        assert sent.delivery.id is not None
        new_token = delivery_token(new.secret, sent.delivery.id)
        new_link = client.get(f"/c/{new_token}/{sent.course.id}")
    assert (old_link.status_code, new_link.status_code) == (302, 302)
    assert [e.delivery_id for e in events(engine)] == [sent.delivery.id] * 2


def test_a_key_dropped_from_the_previous_list_no_longer_verifies(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock, tmp_path: Path
) -> None:
    sent = sent_bulletin(session, clock, settings.secret)
    new = rotated(settings, tmp_path, OLDEST_SECRET)  # TEST_SECRET retired
    assert parse_token(new.verification_keys, sent.token) is None
    app = create_app(new, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        assert client.get(f"/c/{sent.token}/{sent.course.id}").status_code == 404
    assert events(engine) == []
