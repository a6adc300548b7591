"""`newsletter backup`: a live, checked copy of the SQLite database, and the restore drill."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.models import Event, Subscriber
from tests.conftest import TEST_SECRET
from tests.factories import make_bulletin, make_delivery, make_event, make_subscriber, make_variant


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    return CliRunner()


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (
            s.exec(select(func.count()).select_from(Subscriber)).one(),
            s.exec(select(func.count()).select_from(Event)).one(),
        )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_backup_taken_while_a_writer_is_open_restores_every_row(
    cli: CliRunner, session: Session, engine: Engine, tmp_path: Path
) -> None:
    bulletin = make_bulletin(session)
    variant = make_variant(session, bulletin)
    for _ in range(3):
        delivery = make_delivery(session, bulletin, make_subscriber(session), variant)
        make_event(session, delivery)
    session.commit()
    reader = engine.connect()  # another process's open transaction does not stop a backup
    reader.exec_driver_sql("SELECT count(*) FROM event").scalar()
    try:
        out = tmp_path / "backups" / "newsletter-2026-07-01.db"
        result = cli.invoke(app, ["backup", str(out)])
    finally:
        reader.close()
    assert result.exit_code == 0, result.output
    assert "3 subscribers, 3 events; integrity check: ok" in " ".join(result.output.split())
    # The restore drill: point the service at the copy and read it.
    restored = make_engine(f"sqlite:///{out}")
    assert counts(restored) == counts(engine) == (3, 3)
    restored.dispose()
    again = cli.invoke(app, ["backup", str(out)])
    assert again.exit_code == 1
    assert "exists" in again.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_backup_points_to_pg_dump(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["backup", str(tmp_path / "x.db")])
    assert result.exit_code == 1
    assert "pg_dump" in result.output
    assert not (tmp_path / "x.db").exists()
