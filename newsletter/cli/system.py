"""Top-level commands: init, serve, run.

``serve`` and ``run`` bind their socket themselves before anything else is said: a port in use
is one line naming the fix, and the banner appears only once the address is really ours.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from newsletter.cli._common import console, fail, load_settings, open_engine

if TYPE_CHECKING:
    from sqlmodel import Session

    from newsletter.config import Settings

_HOST_HELP = "Interface to listen on."
_PORT_HELP = "Port to listen on (default NEWSLETTER_PORT, normally 8000)."


def load_sample(settings: Settings, session: Session) -> None:
    """Load the agency catalogue and the sample subscribers (the demo's data)."""
    from newsletter.agencies import AgencyFileError
    from newsletter.subscribers import ImportFileError
    from newsletter.subscribers import load_sample as load_sample_data

    try:
        report = load_sample_data(session, settings)
    except (AgencyFileError, ImportFileError) as exc:
        fail(str(exc))
    console.print(
        f"sample subscribers: {report.added} added, {report.unchanged + report.updated} "
        f"already there, {report.rejected} rejected"
    )


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or exit 1 with one line saying what to do."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = 8080 if port != 8080 else 8081
            fail(
                f"port {port} on {host} is already in use (another `newsletter run`?): stop "
                f"it, or choose another port: make run PORT={other} (or NEWSLETTER_PORT={other})"
            )
        fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another --host or --port")
    sock.set_inheritable(True)
    return sock


def banner(base: str, *, scheduler: bool) -> str:
    """What to do next: short lines (under 80 columns) printed as they are, never wrapped."""
    what = "web app and scheduler" if scheduler else "web app"
    return "\n".join(
        [
            "",
            f"newsletter is running ({what}) on {base}",
            f"  {base}/          start page",
            f"  {base}/archive   bulletins that have been sent",
            f"  {base}/healthz   health check",
            "Next, in another terminal (source .venv/bin/activate first):",
            "  newsletter plan check",
            "  newsletter bulletin build 2026-07",
            "  newsletter bulletin send 2026-07 --test-to you@example.org",
            "      proof copies in var/outbox/; each links to a preview page",
            "Stop with Ctrl+C.",
            "",
        ]
    )


def _settings_for(port: int | None) -> Settings:
    # A --port given here is NEWSLETTER_PORT for this process: the default base URL follows.
    return load_settings(port=port) if port is not None else load_settings()


def _migrate(settings: Settings) -> None:
    from newsletter.db import current_revision, engine_from_settings, head_revision, migrate

    engine = engine_from_settings(settings)
    try:
        before = current_revision(engine)
    finally:
        engine.dispose()
    migrate(settings.resolved_database_url)
    head = head_revision()
    if before == head:
        console.print(f"schema: at {head}, nothing to do")
    else:
        console.print(f"schema: migrated from {before or 'an empty database'} to {head}")


def load_first_plan(settings: Settings, session: Session) -> None:
    """On the first start (no plan revision yet), import the plan folder as revision 1."""
    from newsletter.plan import PlanInvalid, current_revision, import_first

    if current_revision(session) is not None:
        return
    try:
        saved = import_first(session, settings)
    except PlanInvalid as exc:
        for error in exc.errors:
            console.print(str(error), markup=False, soft_wrap=True)
        console.print(
            f"the plan in {settings.plan_dir} has {len(exc.errors)} error(s) and was not "
            "imported; fix them and run `newsletter plan import`",
            markup=False,
        )
        return
    console.print(
        f"plan: imported {settings.plan_dir} as revision {saved.revision.number}", markup=False
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        sample: bool = typer.Option(
            False, "--sample", help="Also load agencies, sample subscribers and the sample plan."
        ),
    ) -> None:
        """Create or migrate the database to the newest schema and load the agency catalogue."""
        from sqlmodel import Session

        from newsletter.agencies import AgencyFileError, read_agencies, sync_agencies

        settings = load_settings()
        _migrate(settings)
        engine = open_engine(settings, migrate_first=False)
        console.print(f"database ready: {engine.url.render_as_string(hide_password=True)}")
        with Session(engine) as session:
            if sample:
                load_sample(settings, session)
                load_first_plan(settings, session)
            else:
                try:
                    definitions = read_agencies(settings.subscribers_dir / "agencies.yaml")
                except AgencyFileError as exc:
                    fail(str(exc))
                added = sync_agencies(session, definitions)
                console.print(f"agencies: {len(definitions)} in the catalogue, {added} new")
            session.commit()
        engine.dispose()

    @app.command()
    def backup(
        out: Path = typer.Argument(..., help="The backup file to write (must not exist)."),
    ) -> None:
        """Copy the embedded SQLite database while the service runs (SQLite's online backup).

        On PostgreSQL use pg_dump (docs/operations.md).
        """
        from newsletter.backup import BackupError, backup_sqlite

        settings = load_settings()
        try:
            result = backup_sqlite(settings.resolved_database_url, out)
        except BackupError as exc:
            fail(str(exc))
        console.print(
            f"backup written: {out} ({result.bytes:,} bytes, {result.subscribers} subscribers, "
            f"{result.events} events; integrity check: ok)"
        )

    @app.command()
    def migrate() -> None:
        """Bring the database schema to this version (run once per deploy, before starting)."""
        settings = load_settings()
        _migrate(settings)

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help=_HOST_HELP),
        port: int | None = typer.Option(None, help=_PORT_HELP, show_default=False),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            help="Web worker processes (they share nothing but the database).",
        ),
    ) -> None:
        """Serve the web app: start page, archive, tracking, unsubscribe, webhooks, admin.

        Never migrates PostgreSQL (run `newsletter migrate` at deploy time); refuses to start
        on a database behind this version.
        """
        from newsletter.cli.serving import serve_app
        from newsletter.logs import uvicorn_log_config

        settings = _settings_for(port)
        open_engine(settings).dispose()  # the schema checked (SQLite: migrated) once, here
        # Bound here, so a busy port is one line naming the fix; the workers serve on it.
        sock = bind(host, settings.port)
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The workers' own metrics (event recorder) are added up across them (procmetrics).
            folder = settings.data_dir.resolve() / "metrics" / f"serve-{settings.port}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        typer.echo(banner(f"http://{host}:{settings.port}", scheduler=False))
        # SIGTERM or Ctrl-C: requests in flight get a few seconds, recorded clicks and opens
        # are flushed, and the command exits 0 within 10 s (newsletter/cli/serving.py).
        serve_app(
            "newsletter.web.app:app_from_environment",
            factory=True,
            host=host,
            port=settings.port,
            sockets=[sock],
            workers=workers,
            log_config=uvicorn_log_config(settings),
            proxy_headers=True,
        )

    @app.command()
    def run(
        host: str = typer.Option("127.0.0.1", help=_HOST_HELP),
        port: int | None = typer.Option(None, help=_PORT_HELP, show_default=False),
    ) -> None:
        """Everything in one process on the embedded default (SQLite, outbox, scheduler)."""
        settings = _settings_for(port)
        sock = bind(host, settings.port)
        import logging

        from sqlmodel import Session, func, select

        from newsletter.cli.serving import serve_app
        from newsletter.models import Subscriber
        from newsletter.schedule import SchedulerService
        from newsletter.web import create_app

        logging.getLogger("newsletter").setLevel(logging.INFO)
        engine = open_engine(settings)
        with Session(engine) as session:
            empty = session.exec(select(func.count()).select_from(Subscriber)).one() == 0
            if empty:
                console.print("empty database: loading the sample agencies and subscribers")
                load_sample(settings, session)
            load_first_plan(settings, session)
            session.commit()
        engine.dispose()
        web = create_app(settings)
        # The scheduler runs in a thread beside the web app; it only acts while it holds the
        # leadership lock, so a second `newsletter run` or `python scheduler.py` waits.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick otherwise
        scheduler = SchedulerService(settings)
        scheduler.start_in_thread()
        typer.echo(banner(f"http://{host}:{settings.port}", scheduler=True))
        try:
            serve_app(web, host=host, port=settings.port, sockets=[sock])
        finally:
            # A send the scheduler started stops after its batch in flight (serve_app has
            # asked it to); what remains is resumed by the next run.
            scheduler.stop_thread(timeout=4.0)
            scheduler.engine.dispose()
