"""`newsletter plan ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="The campaign plan in campaigns/: check and show it.", no_args_is_help=True)
