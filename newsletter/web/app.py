"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from newsletter import __version__
from newsletter.clock import Clock, SystemClock
from newsletter.config import Settings
from newsletter.db import engine_from_settings, ensure_schema
from newsletter.web import (
    admin,
    archive,
    health,
    metrics,
    signup,
    subscriptions,
    tracking,
    webhooks,
)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    run_migrations: bool = True,
) -> FastAPI:
    """Build the app. Tests pass their own engine and clock; production passes settings only."""
    if engine is None:
        if run_migrations:  # the embedded default migrates; PostgreSQL is only checked
            ensure_schema(settings.resolved_database_url)
        engine = engine_from_settings(settings)
    app = FastAPI(title="newsletter", version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(archive.router)
    admin.install(app, settings)
    subscriptions.install(app)
    app.include_router(signup.router)
    tracking.install(app)
    app.include_router(webhooks.router)
    return app


def app_from_environment() -> FastAPI:
    """The app of one ``newsletter serve --workers N`` worker: settings from the environment.

    The serving command has checked (or, on SQLite, migrated) the schema before starting the
    workers, so a worker only opens its engine.
    """
    from newsletter.config import get_settings
    from newsletter.logs import configure_logging

    settings = get_settings()
    configure_logging(settings)
    return create_app(settings, run_migrations=False)
