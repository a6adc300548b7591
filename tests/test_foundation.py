"""The foundation: settings, migrations, tokens, placeholders, lifecycle, health check."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel

import newsletter.models
from newsletter import tokens
from newsletter.agencies import AgencyFileError, read_agencies
from newsletter.config import Settings
from newsletter.lifecycle import TransitionError, transition
from newsletter.models import BulletinStatus, utcnow
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, personalise
from newsletter.urls import with_utm
from newsletter.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_bulletin


def test_a_secret_key_is_generated_once_into_the_data_dir_when_unset(tmp_path: Path) -> None:
    first = make_settings(tmp_path, secret_key=None).secret
    second = make_settings(tmp_path, secret_key=None).secret
    assert first == second
    assert len(first) >= 48
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


def test_placeholder_secret_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="real secret"):
        make_settings(tmp_path, secret_key="changeme")


def test_the_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("var/newsletter.db")


def test_approvers_are_read_as_a_comma_separated_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_APPROVERS", "a@example.org, b@example.org")
    assert Settings(_env_file=None).approvers == ["a@example.org", "b@example.org"]


def test_the_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_a_delivery_token_round_trips_and_an_altered_one_is_unknown() -> None:
    key = b"k" * 32
    token = tokens.delivery_token(key, 42)
    assert tokens.parse_token(key, token) == tokens.DeliveryRef(42)
    _body, mac = token.split(".")
    assert tokens.parse_token(key, f"d43.{mac}") is None
    assert tokens.parse_token(key, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.parse_token(b"other" * 8, token) is None
    assert tokens.parse_token(key, "nonsense") is None


def test_an_agency_token_names_the_bulletin_and_agency_only() -> None:
    key = b"k" * 32
    token = tokens.agency_token(key, 7, "health")
    assert tokens.parse_token(key, token) == tokens.AgencyRef(7, "health")


def test_personalise_fills_every_placeholder_in_one_pass() -> None:
    body = f"Hi {NAME}, see /c/{TOKEN}/1 or leave at /u/{SUBSCRIBER} ({NAME})"
    out = personalise(body, {NAME: "Jo", TOKEN: "d1.x", SUBSCRIBER: "s"})
    assert out == "Hi Jo, see /c/d1.x/1 or leave at /u/s (Jo)"


def test_utm_parameters_replace_existing_ones_and_keep_the_rest() -> None:
    url = with_utm(
        "https://x.example.org/a?id=3&utm_source=old#top", month="2026-07", agency="police"
    )
    assert url == (
        "https://x.example.org/a?id=3&utm_source=newsletter&utm_medium=email"
        "&utm_campaign=bulletin-2026-07&utm_content=police#top"
    )


def test_a_bulletin_moves_only_along_allowed_transitions(session: Session) -> None:
    bulletin = make_bulletin(session)
    transition(session, bulletin, BulletinStatus.approved, now=utcnow())
    assert bulletin.status == BulletinStatus.approved
    with pytest.raises(TransitionError):
        transition(session, bulletin, BulletinStatus.sent, now=utcnow())


def test_a_stale_status_read_cannot_win_a_race(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as s1:
        bulletin = make_bulletin(s1, status=BulletinStatus.approved)
        s1.commit()
    with Session(engine, expire_on_commit=False) as s2:
        other = s2.get(newsletter.models.Bulletin, bulletin.id)
        assert other is not None
        transition(s2, other, BulletinStatus.sending, now=utcnow())
        s2.commit()
    with Session(engine, expire_on_commit=False) as s3:
        stale = s3.get(newsletter.models.Bulletin, bulletin.id)
        assert stale is not None
        # What a process read before the other one won (loaded state, not a pending change).
        set_committed_value(stale, "status", BulletinStatus.approved)
        with pytest.raises(TransitionError):
            transition(s3, stale, BulletinStatus.sending, now=utcnow())


def test_the_health_check_answers_ok(settings: Settings, engine: Engine) -> None:
    client = TestClient(create_app(settings, engine=engine))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_readme_configuration_table_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    "name", ["from_address", "reply_to", "unsubscribe_mailto", "partnership_name"]
)
def test_a_header_setting_with_a_line_break_is_refused_at_start_up(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ValidationError, match=f"NEWSLETTER_{name.upper()} holds a line break"):
        make_settings(tmp_path, **{name: "Learning <l@example.org>\r\nBcc: all@example.org"})


def test_agencies_yaml_is_read_within_the_yaml_limits(tmp_path: Path) -> None:
    path = tmp_path / "agencies.yaml"
    lines = ["x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{n}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]" for n in range(6)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(AgencyFileError, match="more than 100,000 values"):
        read_agencies(path)
