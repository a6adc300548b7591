"""Database engine, sessions, migrations and the few dialect differences we allow ourselves.

SQLite (the embedded default) and PostgreSQL are both first-class: the same migrations and the
same test suite run on each. SQLite gets WAL, a busy timeout and foreign keys on every
connection, and ``BEGIN IMMEDIATE`` so that read-then-write transactions take the write lock up
front instead of failing half-way with SQLITE_BUSY.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine

from newsletter.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
READ_ONLY = "newsletter_read_only"  # execution option: this transaction only reads


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
        # A read-only transaction (read_session) takes no write lock: WAL readers never wait
        # for the writer nor make it wait, so reports and import checks run beside clicks.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
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


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading only: on SQLite its transactions never take the write lock.

    Anything it writes (other than temporary tables) fails on SQLite once another connection
    writes, so use it for computing, checking and staging, never for the writes themselves.
    """
    with Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as s:
        try:
            yield s
        finally:
            s.rollback()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class SchemaNotCurrent(RuntimeError):
    """The database is not at the migration head this code expects."""


# Advisory lock key of migrations (PostgreSQL): "nlmigrat" as a positive 64-bit integer.
_MIGRATION_LOCK = int.from_bytes(b"nlmigrat", "big")


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """One migration at a time per database, however many hosts run ``newsletter migrate``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = make_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
        finally:
            engine.dispose()
        return
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        yield
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a migration another process is running
        yield
    finally:
        os.close(fd)


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest) with Alembic.

    Serialised per database (an advisory lock on PostgreSQL, a lock file beside SQLite's
    file): a second process migrating at the same time waits, then finds nothing to do.
    """
    from alembic import command

    import newsletter.models  # noqa: F401  (register every table on SQLModel.metadata)

    with _migration_lock(url):
        command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest migration this code knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def ensure_schema(url: str) -> None:
    """Make sure the database at ``url`` has the schema this code expects, before serving.

    The embedded default (SQLite) migrates itself: one host, migrations serialised by a lock
    file. PostgreSQL is never migrated by a process starting up (several web workers and
    schedulers start together on several hosts): only ``newsletter migrate`` (or ``init``)
    migrates it, at deploy time; here a database behind the code raises SchemaNotCurrent.
    """
    if make_url(url).get_backend_name() == "sqlite":
        migrate(url)
        return
    engine = make_engine(url, poolclass=NullPool)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    if current != head:
        raise SchemaNotCurrent(
            f"the database is at migration {current or 'none (empty)'} but this version needs "
            f"{head}: run `newsletter migrate` (or `newsletter init`) once before starting"
        )


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
