"""`newsletter users ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Administrators of the web app.", no_args_is_help=True)
