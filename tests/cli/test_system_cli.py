"""`newsletter migrate`, `init` and the schema check every other process makes at start."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from newsletter.db import SchemaNotCurrent, ensure_schema, head_revision, make_engine, migrate
from newsletter.web.app import create_app
from tests.conftest import TEST_SECRET


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> CliRunner:
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    return CliRunner()


def set_revision(url: str, revision: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_migrate_on_a_current_database_says_there_is_nothing_to_do(
    cli: CliRunner, settings: Settings
) -> None:
    result = cli.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert f"at {head_revision()}, nothing to do" in result.output


@pytest.mark.postgres_only
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_postgresql_database_behind_the_code_is_refused_not_migrated_at_start(
    cli: CliRunner, settings: Settings, database_url: str
) -> None:
    set_revision(database_url, "0001")  # pretend: a deploy that forgot `newsletter migrate`
    try:
        with pytest.raises(SchemaNotCurrent, match="run `newsletter migrate`"):
            ensure_schema(database_url)
        with pytest.raises(SchemaNotCurrent):
            create_app(settings)
        result = cli.invoke(app, ["plan", "show"])
        assert result.exit_code == 1
        assert "newsletter migrate" in " ".join(result.output.split())
        engine = make_engine(database_url)
        with engine.connect() as conn:
            still = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        engine.dispose()
        assert still == "0001"  # nobody migrated it behind the operator's back
    finally:
        set_revision(database_url, head_revision())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_embedded_sqlite_default_still_migrates_itself(settings: Settings, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    ensure_schema(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == (
            head_revision()
        )
    engine.dispose()


def test_two_migrations_at_once_wait_for_each_other_and_both_succeed(database_url: str) -> None:
    import threading

    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(database_url)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
