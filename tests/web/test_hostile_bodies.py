"""A 1 GB unauthenticated POST to the SendGrid webhook, against a real server process: refused
with 413 while the body streams in, and the server's peak memory stays within a stated bound.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, TEST_SECRET

GIGABYTE = 1 << 30
CHUNK = 1 << 20
# The stated bound: the server may grow by at most this much while the 1 GB body is sent
# (before the fix it grew by more than the body: 124 MB to 2.08 GB).
PEAK_GROWTH_BOUND = 64 * 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """`newsletter serve` on a free loopback port (SQLite, signed webhook required)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the server's peak memory")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(REPO / "campaigns"),
        "NEWSLETTER_TEMPLATES_DIR": str(REPO / "templates"),
        "NEWSLETTER_SUBSCRIBERS_DIR": str(REPO / "subscribers"),
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "newsletter"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()
    output: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "Application startup complete" in line:  # (a socket it is handed goes unannounced)
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(60):
            pytest.fail("the server did not start:\n" + "".join(output)[-3000:])
        yield proc.pid, port
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def post_chunked(port: int, total: int) -> tuple[int | None, int]:
    """POST ``total`` bytes with chunked encoding; (status or None, bytes actually sent)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.putrequest("POST", "/webhooks/sendgrid")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    block = b"[" + b" " * (CHUNK - 1)
    frame = f"{CHUNK:x}\r\n".encode() + block + b"\r\n"
    sent = 0
    try:
        while sent < total:
            conn.send(frame)
            sent += CHUNK
        conn.send(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed the connection: it will not read the rest
    try:
        response = conn.getresponse()
        status: int | None = response.status
    except (OSError, http.client.HTTPException):
        status = None
    conn.close()
    return status, sent


def test_a_1_gb_chunked_post_is_refused_while_it_streams_and_memory_stays_bounded(
    server: tuple[int, int],
) -> None:
    pid, port = server
    # Warm the route once, so that what is measured is the body, not first-use imports.
    assert post_chunked(port, 16 * CHUNK)[0] == 413
    before = peak_rss(pid)

    status, sent = post_chunked(port, GIGABYTE)

    growth = peak_rss(pid) - before
    # The server may drain what the client insists on sending, but never holds it.
    assert status in {413, None}
    assert sent > PEAK_GROWTH_BOUND
    assert growth < PEAK_GROWTH_BOUND, f"peak memory grew by {growth / 2**20:.0f} MB"


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    server: tuple[int, int],
) -> None:
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/webhooks/sendgrid")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(GIGABYTE))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
