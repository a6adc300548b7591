"""SIGTERM stops `newsletter serve`, `newsletter run`, `python scheduler.py` and a send within
10 seconds, under load: recorded events are flushed and the batch in flight is recorded."""

from __future__ import annotations

import http.client
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlmodel import Session, col

from newsletter.config import Settings
from newsletter.models import BulletinStatus, Delivery, DeliveryStatus, Event, Subscriber
from newsletter.plan import load_checked_plan
from newsletter.plan.digest import month_digest
from newsletter.tokens import address_hash, delivery_token_signer
from tests.conftest import REPO, TEST_SECRET, make_settings
from tests.factories import (
    make_agency,
    make_bulletin,
    make_delivery,
    make_link,
    make_subscriber,
    make_variant,
)

STOP_WITHIN = 10.0  # seconds, from SIGTERM to the process's exit
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(REPO / "campaigns"),
        "NEWSLETTER_TEMPLATES_DIR": str(REPO / "templates"),
        "NEWSLETTER_SUBSCRIBERS_DIR": str(REPO / "subscribers"),
        "PYTHONPATH": str(REPO),
    }


def lines_of(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return out


def wait_for(lines: queue.Queue[str], needle: str, seen: list[str]) -> None:
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            pytest.fail(f"{needle!r} never appeared; output so far:\n{''.join(seen)[-3000:]}")
        seen.append(line)
        if needle in line:
            return


@pytest.fixture
def stopping() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by a test; any still running at the end are killed."""
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def start(
    procs: list[subprocess.Popen[str]], args: list[str], tmp_path: Path, env: dict[str, str]
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    procs.append(proc)
    return proc


class Clicker(threading.Thread):
    """Clicks one tracked link over and over on a keep-alive connection, counting redirects."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.redirects = 0
        self.first = threading.Event()

    def run(self) -> None:
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                while True:
                    conn.request("GET", self.path, headers={"User-Agent": "Mozilla/5.0 (X11)"})
                    response = conn.getresponse()
                    response.read()
                    if response.status == 302:
                        self.redirects += 1
                        self.first.set()
                    if response.getheader("connection", "").lower() == "close":
                        break
                conn.close()
            except (OSError, http.client.HTTPException):
                if self.first.is_set():
                    return  # the server has gone away
                threading.Event().wait(0.05)  # not up yet


@pytest.mark.parametrize("command", [["run"], ["serve"], ["serve", "--workers", "2"]], ids=" ".join)
def test_sigterm_stops_the_web_app_under_load_and_every_answered_click_is_recorded(
    engine: Engine,
    session: Session,
    tmp_path: Path,
    database_url: str,
    stopping: list[subprocess.Popen[str]],
    command: list[str],
) -> None:
    bulletin = make_bulletin(session, status=BulletinStatus.sent)
    variant = make_variant(session, bulletin, agency="health")
    link = make_link(session, bulletin)
    delivery = make_delivery(session, bulletin, make_subscriber(session), variant)
    session.commit()
    settings = make_settings(tmp_path, database_url=database_url)
    token = delivery_token_signer(settings.secret)(delivery.id or 0)
    port = free_port()
    proc = start(
        stopping,
        [str(BIN / "newsletter"), *command, "--port", str(port)],
        tmp_path,
        service_env(tmp_path, database_url),
    )
    lines = lines_of(proc)
    seen: list[str] = []
    wait_for(lines, "Application startup complete", seen)
    clickers = [Clicker(port, f"/c/{token}/{link.id}") for _ in range(4)]
    for clicker in clickers:
        clicker.start()
    for clicker in clickers:
        assert clicker.first.wait(30), "".join(seen)

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} did not stop within {STOP_WITHIN} s of SIGTERM")
    for clicker in clickers:
        clicker.join(timeout=10)

    assert code == 0, "".join(seen)[-3000:]
    answered = sum(c.redirects for c in clickers)
    with Session(engine) as fresh:
        recorded = fresh.execute(
            select(func.count()).select_from(Event).where(col(Event.link_id) == link.id)
        ).scalar_one()
    assert answered > 0
    assert recorded == answered
    # No process logs every click (the access log belongs to the proxy: docs/deploy.md).
    wait_for(lines, "Finished server process", seen)
    assert not [line for line in seen if "uvicorn.access" in line]


def dawdle(port: int) -> socket.socket:
    """A connection with a request in flight: served once, then a body that never finishes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answered = b""
    while b"\r\n\r\n" not in answered:  # the connection is a worker's, and kept alive
        answered += sock.recv(4096)
    sock.sendall(
        b"POST /webhooks/sendgrid HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n[{"
    )
    return sock


@pytest.mark.parametrize("command", [["run"], ["serve"], ["serve", "--workers", "2"]], ids=" ".join)
def test_sigterm_cuts_a_request_still_in_flight_after_the_grace_and_stops_within_10_s(
    tmp_path: Path,
    database_url: str,
    stopping: list[subprocess.Popen[str]],
    command: list[str],
) -> None:
    port = free_port()
    proc = start(
        stopping,
        [str(BIN / "newsletter"), *command, "--port", str(port)],
        tmp_path,
        service_env(tmp_path, database_url),
    )
    lines = lines_of(proc)
    seen: list[str] = []
    wait_for(lines, "Application startup complete", seen)
    dawdlers = [dawdle(port) for _ in range(3)]

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} did not stop within {STOP_WITHIN} s of SIGTERM")
    for sock in dawdlers:
        sock.close()
    output = "".join(seen)
    while not lines.empty():
        output += lines.get()
    assert code == 0, output[-3000:]
    assert "timeout graceful shutdown exceeded" in output  # they were cut, not waited for


def test_sigterm_stops_python_scheduler_py_promptly(
    tmp_path: Path, database_url: str, stopping: list[subprocess.Popen[str]]
) -> None:
    proc = start(
        stopping,
        [sys.executable, str(REPO / "scheduler.py")],
        tmp_path,
        service_env(tmp_path, database_url),
    )
    lines = lines_of(proc)
    seen: list[str] = []
    wait_for(lines, "job retention: next run", seen)

    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scheduler.py did not stop within {STOP_WITHIN} s of SIGTERM")
    rest = "".join(seen)
    while not lines.empty():
        rest += lines.get()
    assert code == 0, rest[-3000:]
    assert "scheduler stopped" in rest


RECIPIENTS = 6000
BATCH = 200

# A send run the way the scheduler runs one: in a thread of its own, while the main thread
# handles the signal the way `python scheduler.py` and `newsletter run` do.
SEND_IN_A_THREAD = f"""
import signal, sys, threading
from newsletter.clock import SystemClock
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.dispatch import request_shutdown, send_bulletin
from newsletter.transports.outbox import OutboxTransport

url, data_dir, month, secret = sys.argv[1:5]
settings = Settings(_env_file=None, data_dir=data_dir, database_url=url, secret_key=secret,
                    batch_size={BATCH})
engine = make_engine(url)
outbox = OutboxTransport(settings.data_dir / "outbox")
result = []
sender = threading.Thread(
    target=lambda: result.append(
        send_bulletin(engine, settings, month, transport=outbox, clock=SystemClock())
    )
)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: (request_shutdown(), stop.set()))
sender.start()
print("sending", flush=True)
while sender.is_alive() and not stop.wait(0.05):
    pass
sender.join()
print("stopped:", result[0].stopped if result else "no summary", flush=True)
"""


def seed_send(session: Session, **overrides: object) -> str:
    bulletin = make_bulletin(session, status=BulletinStatus.approved, **overrides)
    make_agency(session, slug="health")
    make_variant(session, bulletin, agency="health", html="<p>__NL_NAME__ __NL_TOKEN__</p>")
    rows = []
    for n in range(RECIPIENTS):
        email = f"term{n}@example.org"
        rows.append(
            {
                "email": email,
                "address_hash": address_hash(email),
                "name": f"Person {n}",
                "agency": "health",
                "serves_children": True,
                "serves_adults": False,
                "status": "active",
                "token": secrets.token_urlsafe(18),
                "consent_source": "test",
            }
        )
    session.execute(insert(Subscriber), rows)
    session.commit()
    return bulletin.month


def outbox_counts(data_dir: Path) -> Counter[str]:
    return Counter(p.name.split("-")[0] for p in (data_dir / "outbox").rglob("*.eml"))


@pytest.mark.parametrize("how", ["cli", "thread"])
def test_sigterm_during_a_send_records_the_batch_in_flight_and_a_rerun_finishes_it(
    engine: Engine,
    session: Session,
    tmp_path: Path,
    database_url: str,
    stopping: list[subprocess.Popen[str]],
    how: str,
    settings: Settings,
) -> None:
    # July, as the plan has it: `bulletin send` refuses a bulletin out of date with the plan.
    month = seed_send(
        session, month="2026-07", month_hash=month_digest(load_checked_plan(settings), "2026-07")
    )
    data_dir = tmp_path / "var"
    env = service_env(tmp_path, database_url) | {"NEWSLETTER_BATCH_SIZE": str(BATCH)}
    if how == "cli":
        args = [str(BIN / "newsletter"), "bulletin", "send", month, "--yes"]
    else:
        args = [sys.executable, "-c", SEND_IN_A_THREAD, database_url, str(data_dir), month]
        args.append(TEST_SECRET)
    proc = start(stopping, args, tmp_path, env)
    # Wait until some messages have left, then ask the process to stop.
    outbox = data_dir / "outbox"
    while not (outbox.exists() and any(outbox.rglob("*.eml"))):
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        threading.Event().wait(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the send did not stop within {STOP_WITHIN} s of SIGTERM")
    output = proc.stdout.read() if proc.stdout else ""

    with Session(engine) as fresh:
        statuses = dict(
            fresh.execute(
                select(col(Delivery.status), func.count()).group_by(col(Delivery.status))
            ).all()
        )
    # Stopped part-way, with nothing in doubt: every row is sent or still pending.
    assert set(statuses) <= {DeliveryStatus.sent.value, DeliveryStatus.pending.value}, output
    assert 0 < statuses.get(DeliveryStatus.sent.value, 0) < RECIPIENTS, output
    files = outbox_counts(data_dir)
    assert sum(files.values()) == statuses[DeliveryStatus.sent.value]

    rerun = subprocess.run(
        [str(BIN / "newsletter"), "bulletin", "send", month, "--yes"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    files = outbox_counts(data_dir)
    assert len(files) == RECIPIENTS
    assert set(files.values()) == {1}
