"""`newsletter run` and `serve`: the port, the banner, and a busy port, as a newcomer meets them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from newsletter.config import get_settings
from tests.conftest import REPO, TEST_SECRET


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    environ.update(
        NEWSLETTER_DATA_DIR=str(tmp_path / "var"),
        NEWSLETTER_PLAN_DIR=str(REPO / "campaigns"),
        NEWSLETTER_SUBSCRIBERS_DIR=str(REPO / "subscribers"),
        NEWSLETTER_TEMPLATES_DIR=str(REPO / "templates"),
        NEWSLETTER_SECRET_KEY=TEST_SECRET,
        COLUMNS="80",
    )
    return environ


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_default_base_url_follows_the_port_and_an_explicit_one_is_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSLETTER_PUBLIC_BASE_URL", raising=False)
    monkeypatch.delenv("NEWSLETTER_PORT", raising=False)
    assert get_settings().public_base_url == "http://127.0.0.1:8000"
    monkeypatch.setenv("NEWSLETTER_PORT", "8080")
    assert get_settings().port == 8080
    assert get_settings().public_base_url == "http://127.0.0.1:8080"
    assert get_settings(port=9000).public_base_url == "http://127.0.0.1:9000"
    monkeypatch.setenv("NEWSLETTER_PUBLIC_BASE_URL", "https://learning.example.org/")
    assert get_settings().public_base_url == "https://learning.example.org"


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_busy_port_is_one_line_naming_the_fix_and_no_banner(
    env: dict[str, str], tmp_path: Path, busy_port: int, command: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "newsletter.cli", command, "--port", str(busy_port)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "running" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {busy_port} on 127.0.0.1 is already in use" in lines[0]
    assert "make run PORT=8080" in lines[0]
    assert "Traceback" not in result.stderr


def test_run_prints_its_banner_once_bound_on_the_chosen_port_and_serves_every_page_named(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env["NEWSLETTER_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter.cli", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line.rstrip("\n"))
            if line.startswith("Stop with Ctrl+C."):
                break
        base = f"http://127.0.0.1:{port}"
        assert f"newsletter is running (web app and scheduler) on {base}" in banner
        assert all(len(line) < 80 for line in banner), banner
        named = [word for line in banner for word in line.split() if word.startswith(base)]
        assert f"{base}/archive" in named
        for url in named:
            response = httpx.get(url, headers={"Accept": "text/html"}, timeout=30)
            assert response.status_code == 200, url
        assert get_settings(_env_file=None, port=port).public_base_url == base
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
