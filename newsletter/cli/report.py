"""`newsletter report ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Training-link engagement reports for the board.", no_args_is_help=True)
