"""Database engine, sessions, migrations and the few dialect differences we allow ourselves.

SQLite (the embedded default) and PostgreSQL are both first-class: the same migrations and the
same test suite run on each. SQLite gets WAL, a busy timeout and foreign keys on every
connection, and ``BEGIN IMMEDIATE`` so that read-then-write transactions take the write lock up
front instead of failing half-way with SQLITE_BUSY.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

from newsletter.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str | URL, *, lookups: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings each dialect needs: the one place the
    service builds engines.

    ``lookups``: an engine for single-SELECT lookups beside a busy writer (the tracking
    registry). On SQLite its connections are pooled and run each SELECT in autocommit, without
    the ``BEGIN IMMEDIATE`` of a writing connection: in WAL mode such a read never waits for,
    nor holds up, the write lock. Elsewhere it is an ordinary engine.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if lookups:
            kwargs.setdefault("pool_size", 4)
        else:
            kwargs.setdefault("poolclass", NullPool)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        _configure_sqlite(engine, begin_immediate=not lookups)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, begin_immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module (it would skip BEGIN for
        # SELECT and autocommit DDL); SQLAlchemy's "begin" hook below issues our own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    if not begin_immediate:
        return

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def engine_from_settings(settings: Settings) -> Engine:
    return make_engine(settings.resolved_database_url)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest) with Alembic."""
    from alembic import command

    import newsletter.models  # noqa: F401  (register every table on SQLModel.metadata)

    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def dialect_insert(engine_or_session: Engine | Session, table: Any) -> Any:
    """An INSERT that knows ``ON CONFLICT`` on both supported dialects."""
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    name = bind.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise NotImplementedError(f"dialect {name} is not supported")


metadata = SQLModel.metadata
