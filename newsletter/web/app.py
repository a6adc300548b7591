"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from newsletter import __version__
from newsletter.clock import Clock, SystemClock
from newsletter.config import Settings
from newsletter.db import engine_from_settings, migrate
from newsletter.web import admin, archive, health, signup, subscriptions, tracking, webhooks


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    run_migrations: bool = True,
) -> FastAPI:
    """Build the app. Tests pass their own engine and clock; production passes settings only."""
    if engine is None:
        if run_migrations:
            migrate(settings.resolved_database_url)
        engine = engine_from_settings(settings)
    app = FastAPI(title="newsletter", version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    app.include_router(health.router)
    app.include_router(archive.router)
    admin.install(app, settings)
    subscriptions.install(app)
    app.include_router(signup.router)
    tracking.install(app)
    app.include_router(webhooks.router)
    return app
