"""`newsletter bulletin ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Assemble, preview, approve and send a month's bulletin.", no_args_is_help=True
)
