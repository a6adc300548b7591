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
    from newsletter.config import get_settings
    from newsletter.logs import configure_logging

    try:
        settings = get_settings()
    except Exception:  # each command reports bad configuration itself, plainly
        logging.basicConfig(level=logging.INFO)
    else:
        configure_logging(settings)  # NEWSLETTER_LOG_FORMAT: text or json
    # Every command checks the schema first; Alembic's INFO lines would drown what it says.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app()


__all__ = ["app", "main"]
