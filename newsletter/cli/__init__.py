"""The ``newsletter`` command. Each area's commands live in their own module here."""

from __future__ import annotations

import logging

import typer

from newsletter.cli import (
    bulletin,
    helpstyle,
    plan,
    report,
    schedule,
    send,
    subscribers,
    system,
    tokens,
    users,
)

helpstyle.install()

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
    # A command says what it did itself; the log is for warnings and errors. Libraries'
    # INFO chatter (matplotlib, alembic...) and our own INFO lines, which would only repeat
    # what the command prints, stay out of the way. `run` and `serve` turn the service's own
    # INFO lines back on: there the log is the output. Once a command reads its settings
    # (cli._common.load_settings), NEWSLETTER_LOG_FORMAT picks text or JSON lines.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app()


__all__ = ["app", "main"]
