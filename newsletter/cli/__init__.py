"""The ``newsletter`` command. Each area's commands live in their own module here."""

from __future__ import annotations

import logging

import typer

from newsletter.cli import (
    bulletin,
    plan,
    report,
    schedule,
    send,
    subscribers,
    system,
    tokens,
    users,
)

app = typer.Typer(
    help="Monthly thematic learning bulletins: plan, assemble, send, track, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
system.register(app)
app.add_typer(plan.app, name="plan")
send.register(bulletin.app)
app.add_typer(bulletin.app, name="bulletin")
app.add_typer(subscribers.app, name="subscribers")
app.add_typer(report.app, name="report")
app.add_typer(schedule.app, name="schedule")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every command migrates first; Alembic's INFO lines would drown what the command says.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


__all__ = ["app", "main"]
