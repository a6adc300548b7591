"""`newsletter schedule ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="When bulletins go out: list, next, pause, resume.", no_args_is_help=True)
