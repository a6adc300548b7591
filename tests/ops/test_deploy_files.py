"""The deployment files (Dockerfile, compose.yaml, systemd units) checked against the code.

Docker may be missing where the suite runs (it is here: no daemon), so these are config
checks: every command they run exists with the options they pass, every NEWSLETTER_ variable
they set is a real setting, the web and schedulers only start after the one `migrate`, the
image runs as a non-root user with a health check. `systemd-analyze verify` checks the units
where systemd is installed.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from newsletter.cli import app
from newsletter.config import Settings
from tests.conftest import IN_CI, REPO

SETTINGS = {name.upper() for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load((REPO / "compose.yaml").read_text())
    return data


def newsletter_command(argv: list[str]) -> None:
    """``newsletter ARGS --help`` must succeed and name every option the file passes."""
    if argv[0] == "python":
        assert argv[1:] == ["scheduler.py"]
        assert (REPO / "scheduler.py").exists()
        return
    assert Path(argv[0]).name == "newsletter", argv
    words = [w for w in argv[1:] if not w.startswith("-") and not re.match(r"^[\d.]+$", w)]
    command = [w for w in words if w.isalpha()][:1]
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, (argv, result.output)
    for option in (w for w in argv if w.startswith("--")):
        assert option in result.output, f"{' '.join(argv)}: no option {option}"


def test_compose_runs_two_web_processes_two_schedulers_and_postgresql_after_one_migrate() -> None:
    services = compose()["services"]
    web = [s for s in services.values() if "serve" in s.get("command", [])]
    schedulers = [s for s in services.values() if s.get("command") == ["python", "scheduler.py"]]
    assert len(web) == 2
    assert len(schedulers) == 2
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["migrate"]["command"] == ["newsletter", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for service in web + schedulers:
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        newsletter_command(service["command"])
    newsletter_command(services["migrate"]["command"])


def test_every_variable_compose_sets_is_a_setting() -> None:
    for name, service in compose()["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("NEWSLETTER_"):
                assert variable.removeprefix("NEWSLETTER_") in SETTINGS, (name, variable)


def test_the_image_is_multi_stage_runs_as_non_root_and_checks_its_health() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, flags=re.M)
    assert len(stages) >= 2
    final = text[text.rindex("\nFROM ") :]
    users = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    assert users
    assert users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in final
    assert "/healthz" in final
    for source in re.findall(r"^COPY\s+(?!--from)(\S+)\s", text, flags=re.M):
        assert (REPO / source).exists(), f"Dockerfile copies {source}, which is not there"
    cmd = re.findall(r"^CMD\s+(\[.*\])", final, flags=re.M)[-1]
    newsletter_command(YAML(typ="safe").load(cmd))


def units() -> dict[str, configparser.ConfigParser]:
    found = {}
    for path in sorted((REPO / "deploy" / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        found[path.name] = parser
    return found


def test_the_systemd_units_run_real_commands_and_start_after_the_migration() -> None:
    found = units()
    assert set(found) == {
        "newsletter-migrate.service",
        "newsletter-web.service",
        "newsletter-scheduler.service",
    }
    for name, unit in found.items():
        argv = unit["Service"]["ExecStart"].split()
        argv[0] = Path(argv[0]).name
        newsletter_command(argv)
        assert unit["Service"]["User"] == "newsletter"
        if name != "newsletter-migrate.service":
            assert "newsletter-migrate.service" in unit["Unit"]["Requires"]
            assert "newsletter-migrate.service" in unit["Unit"]["After"]


def test_the_example_environment_file_names_only_real_settings() -> None:
    lines = (REPO / "deploy" / "systemd" / "newsletter.env.example").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert names
    for name in names:
        assert name.removeprefix("NEWSLETTER_") in SETTINGS, name


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if IN_CI:
            pytest.fail("CI=true but systemd-analyze is missing (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed")
    # The units name /opt/newsletter; point them at this checkout and its virtualenv.
    for path in (REPO / "deploy" / "systemd").glob("*.service"):
        text = path.read_text().replace("/opt/newsletter/.venv", sys.prefix)
        (tmp_path / path.name).write_text(text.replace("/opt/newsletter", str(REPO)))
    result = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ours = [line for line in result.stderr.splitlines() if "newsletter-" in line]
    assert ours == [], "\n".join(ours)
