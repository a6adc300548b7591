"""The FastAPI application factory."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import Receive, Scope, Send

from newsletter import __version__
from newsletter.accounts import seed_approvers
from newsletter.clock import Clock, SystemClock
from newsletter.config import Settings
from newsletter.db import engine_from_settings, ensure_schema
from newsletter.web import (
    api,
    archive,
    errors,
    health,
    landing,
    metrics,
    preview,
    signup,
    staff,
    subscriptions,
    tracking,
    webhooks,
)
from newsletter.web.bodylimit import DEFAULT_LIMIT, BodyLimit
from newsletter.web.headers import SecurityHeaders

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"

# Request-body limits by path prefix (newsletter.web.bodylimit); everything else gets
# DEFAULT_LIMIT (1 MiB). A route that takes larger bodies (uploads, webhooks) adds itself here.
BODY_LIMITS: dict[str, int] = {
    api.PREFIX + "/": api.BODY_LIMIT,
    "/admin/lists/upload": 50 << 20,  # a list of half a million people
    "/webhooks/sendgrid": webhooks.MAX_BODY_BYTES,  # SendGrid posts up to ~768 KB
}


def seed_approver_role(engine: Engine, settings: Settings) -> None:
    """NEWSLETTER_APPROVERS seeds the approver role while nobody holds it (see accounts)."""
    if not settings.approvers:
        return
    with Session(engine) as session:
        seeded = seed_approvers(session, settings.approvers, actor="NEWSLETTER_APPROVERS")
        session.commit()
    if seeded:
        log.info("gave the approver role to %s (NEWSLETTER_APPROVERS)", ", ".join(seeded))


class NewsletterApp(FastAPI):
    """The FastAPI app, with the tracking paths (/c/, /o/) answered ahead of its stack.

    Every other request goes through FastAPI and the middleware as usual; the click and pixel
    paths, the hottest of the service, go to ``web.tracking.TrackingFront``, which keeps what
    the stack would have given them (security headers, body limit, a logged 500).
    """

    tracking_front: tracking.TrackingFront | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.tracking_front
        if (
            front is not None
            and scope["type"] == "http"
            and scope["path"].startswith(tracking.PREFIXES)
        ):
            scope["app"] = self
            await front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


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
        seed_approver_role(engine, settings)
    app = NewsletterApp(title="newsletter", version=__version__, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or SystemClock()
    errors.install(app)
    app.include_router(health.router)
    app.include_router(landing.router)
    app.include_router(metrics.router)
    app.include_router(archive.router)
    app.include_router(preview.router)
    staff.install(app)
    subscriptions.install(app)
    app.include_router(signup.router)
    api.install(app)
    tracking.install(app)
    app.include_router(webhooks.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Added last, so they wrap everything (the tracking paths keep the same rules themselves).
    https = settings.public_base_url.startswith("https://")
    app.add_middleware(BodyLimit, default=DEFAULT_LIMIT, limits=BODY_LIMITS)
    app.add_middleware(SecurityHeaders, https=https)
    app.tracking_front = tracking.TrackingFront(https=https, body_limit=DEFAULT_LIMIT)
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
