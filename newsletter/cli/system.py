"""Top-level commands: init, serve, run."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import typer
from sqlmodel import Session, func, select

from newsletter.agencies import AgencyFileError, read_agencies, sync_agencies
from newsletter.cli._common import console, fail, load_settings, open_engine
from newsletter.config import Settings
from newsletter.models import Subscriber


def load_sample(settings: Settings, session: Session) -> None:
    """Load the agency catalogue and the sample subscribers (the demo's data)."""
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
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            help="Web worker processes (they share nothing but the database).",
        ),
    ) -> None:
        """Serve the web app: tracking, unsubscribe, archive, webhooks, admin.

        Never migrates PostgreSQL (run `newsletter migrate` at deploy time); refuses to start
        on a database behind this version.
        """
        import uvicorn

        from newsletter.logs import uvicorn_log_config

        settings = load_settings()
        open_engine(settings).dispose()  # the schema checked (SQLite: migrated) once, here
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The workers' own metrics (event recorder) are added up across them (procmetrics).
            folder = settings.data_dir.resolve() / "metrics" / f"serve-{port}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        uvicorn.run(
            "newsletter.web.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=uvicorn_log_config(settings),
            proxy_headers=True,
            timeout_graceful_shutdown=20,
        )

    @app.command()
    def run(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
    ) -> None:
        """Everything in one process on the embedded default (SQLite, outbox, scheduler)."""
        from newsletter.cli.serving import serve_app
        from newsletter.web import create_app

        settings = load_settings()
        engine = open_engine(settings)
        with Session(engine) as session:
            empty = session.exec(select(func.count()).select_from(Subscriber)).one() == 0
            if empty:
                console.print("empty database: loading the sample agencies and subscribers")
                load_sample(settings, session)
            load_first_plan(settings, session)
            session.commit()
        engine.dispose()
        base = f"http://{host}:{port}"
        console.print(
            f"\n[bold]newsletter is running[/] on {base}  (health: {base}/healthz)\n"
            "Next, in another terminal (with .venv/bin on your PATH):\n"
            "  newsletter plan check                 validate the campaign plan\n"
            "  newsletter bulletin build 2026-07     assemble July's bulletin\n"
            f"  open {base}/archive/2026-07/health    see the health variant\n"
        )
        from newsletter.schedule import SchedulerService

        # The scheduler runs in a thread beside the web app; it only acts while it holds the
        # leadership lock, so a second `newsletter run` or `python scheduler.py` waits.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick otherwise
        scheduler = SchedulerService(settings)
        scheduler.start_in_thread()
        try:
            serve_app(create_app(settings), host=host, port=port)
        finally:
            # A send the scheduler started stops after its batch in flight (serve_app has
            # asked it to); what remains is resumed by the next run.
            scheduler.stop_thread(timeout=4.0)
            scheduler.engine.dispose()
