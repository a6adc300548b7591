"""`newsletter subscribers ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Subscriber lists by agency: import, export, consent, erasure.", no_args_is_help=True
)
