"""The command starts light: `--help` builds every command without importing the service, and a
command prints its result once, with no library chatter on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from newsletter.cli.report import DEFAULT_LINK_KINDS, LINK_KINDS, ReportFormat
from newsletter.cli.subscribers import MAX_LEAVERS, StatusChoice
from tests.conftest import REPO, TEST_SECRET

# What a --help must not pay for: the database layer, settings, the models, assembly, reports.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "pydantic_settings",
    "newsletter.config",
    "newsletter.db",
    "newsletter.models",
    "newsletter.assemble",
    "newsletter.dispatch",
    "newsletter.reports",
    "newsletter.schedule",
    "newsletter.plan",
    "matplotlib",
    "premailer",
    "email_validator",
)

PROBE = """
import sys
import typer
from typer.testing import CliRunner
from newsletter.cli import app

runner = CliRunner()

def paths(command, prefix):
    yield prefix
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from paths(sub, [*prefix, name])

count = 0
for path in paths(typer.main.get_command(app), []):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, (path, result.output)
    count += 1
assert count > 25, count
heavy = sorted({m for m in sys.modules if m.startswith(HEAVY)})
print("HEAVY:" + ",".join(heavy))
"""


def env_for(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_DATA_DIR=str(tmp_path / "var"),
        NEWSLETTER_PLAN_DIR=str(REPO / "campaigns"),
        NEWSLETTER_SUBSCRIBERS_DIR=str(REPO / "subscribers"),
        NEWSLETTER_TEMPLATES_DIR=str(REPO / "templates"),
        NEWSLETTER_SECRET_KEY=TEST_SECRET,
    )
    return environ


def test_every_help_screen_is_built_without_importing_the_service(tmp_path: Path) -> None:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env_for(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_the_cli_choices_match_the_service(tmp_path: Path) -> None:
    from newsletter.models import SubscriberStatus
    from newsletter.reports.formats import FORMATS
    from newsletter.reports.training import ALL_KINDS, DEFAULT_KINDS

    assert tuple(ReportFormat) == FORMATS
    assert (LINK_KINDS, DEFAULT_LINK_KINDS) == (ALL_KINDS, DEFAULT_KINDS)
    assert [s.value for s in StatusChoice] == [s.value for s in SubscriberStatus]
    from newsletter.subscribers import DEFAULT_MAX_LEAVERS

    assert MAX_LEAVERS == DEFAULT_MAX_LEAVERS


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter.cli", *args],
        env=env_for(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["bulletin", "build", "2026-07"],
        ["report", "training", "--format", "html", "--out", "training.html"],
    ],
)
def test_a_command_prints_its_result_once_and_nothing_on_stderr(
    tmp_path: Path, args: list[str]
) -> None:
    assert run_cli(tmp_path, "init", "--sample").returncode == 0

    result = run_cli(tmp_path, *args)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""  # no INFO lines: not ours, not matplotlib's, not alembic's
    assert result.stdout.strip()


def every_help_screen() -> dict[str, str]:
    import typer
    from typer.testing import CliRunner

    from newsletter.cli import app

    def paths(command: object, prefix: list[str]) -> list[list[str]]:
        found = [prefix]
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found += paths(sub, [*prefix, name])
        return found

    runner = CliRunner()
    screens = {}
    for path in paths(typer.main.get_command(app), []):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, result.output
        screens[" ".join(path)] = result.output
    return screens


def test_help_screens_show_names_and_choices_not_python_types_or_braces() -> None:
    screens = every_help_screen()

    for path, text in screens.items():
        for placeholder in ("<bool>", "<str>", "<int>", "<path>", "{month}", "{"):
            assert placeholder not in text, (path, placeholder)
    assert "Usage: root bulletin send [OPTIONS] MONTH" in screens["bulletin send"]
    assert "table|csv|json|html" in screens["report training"]
    assert "table|csv|json|html" in screens["report bulletin"]
    assert "--out             FILE" in screens["report training"]
