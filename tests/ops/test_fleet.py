"""The fleet on the local PostgreSQL: two `newsletter serve` processes and two schedulers.

* Clicks spread over both web processes are each counted exactly once.
* `kill -9` of the leading scheduler in the middle of a send: the standby takes the lead,
  resumes the send and finishes it. At the SendGrid stand-in nobody got the bulletin twice,
  and after `newsletter bulletin send --retry-unknown` nobody is missing (only the batch that
  was in flight when the leader died, whose outcome was unknown, may have it twice: the
  unknown-batch rule).

Everything runs as real processes with the real configuration (SendGrid transport pointed at
the stand-in, which answers each request after a delay so that the kill lands mid-send).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, insert, update
from sqlmodel import Session, col, select

from newsletter.devtools.sendgrid_standin import Answer, SendGridStandIn
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    Event,
    EventType,
    Subscriber,
    utcnow,
)
from newsletter.schedule.leader import leader_present
from newsletter.tokens import address_hash, delivery_token
from tests.conftest import REPO, TEST_SECRET, make_settings
from tests.factories import make_agency, make_bulletin, make_link, make_variant

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

PEOPLE = 1200
BATCH = 100
MONTH = "2026-12"
CLICKS = 400
CLI = ["-c", "from newsletter.cli import main; main()"]
WAIT = 180.0  # seconds: the longest any step may take on a loaded 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait until ``check()`` holds (each process works on its own; we can only look)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class Standin(SendGridStandIn):
    """The stand-in, telling the test when it has accepted ``n`` requests."""

    def __init__(self) -> None:
        super().__init__(api_key="SG.fleet-test")
        self.reached: dict[int, threading.Event] = {}

    def at(self, n: int) -> threading.Event:
        return self.reached.setdefault(n, threading.Event())

    def _accept(self, payload: dict[str, Any]) -> str:
        message_id = super()._accept(payload)
        for n, event in self.reached.items():
            if len(self.accepted) >= n:
                event.set()
        return message_id

    def per_recipient(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for accepted in self.accepted:
            assert accepted.payload is not None
            for p in accepted.payload["personalizations"]:
                counts.update(to["email"] for to in p["to"])
        return counts


def seed(session: Session) -> tuple[int, int]:
    """A bulletin left ``sending`` by nobody (due now), PEOPLE subscribers, one course link."""
    agencies = ["health", "police", "education"]
    now = utcnow()
    bulletin = make_bulletin(
        session,
        month=MONTH,
        status=BulletinStatus.approved,
        send_at=now,
        approved_at=now,
        approved_by="lead@example.org",
    )
    for agency in agencies:
        make_agency(session, slug=agency)
        make_variant(session, bulletin, agency=agency)
    link = make_link(session, bulletin)
    session.execute(
        insert(Subscriber),
        [
            {
                "email": f"fleet{n}@example.org",
                "address_hash": address_hash(f"fleet{n}@example.org"),
                "name": f"Person {n}",
                "agency": agencies[n % 3],
                "serves_children": True,
                "serves_adults": True,
                "status": "active",
                "token": f"fleet-token-{n}",
                "consent_source": "test",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(PEOPLE)
        ],
    )
    # As a send whose process died before snapshotting anything leaves it: `sending`, no lock.
    session.execute(
        update(Bulletin)
        .where(col(Bulletin.id) == bulletin.id)
        .values(status=BulletinStatus.sending, send_started_at=now)
    )
    session.commit()
    assert bulletin.id is not None
    assert link.id is not None
    return bulletin.id, link.id


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=self.env, stdout=log, stderr=log
        )
        self.running.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def standin() -> Iterator[Standin]:
    server = Standin()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_two_web_processes_and_two_schedulers_survive_the_leader_dying_mid_send(
    engine: Engine, session: Session, database_url: str, tmp_path: Path, standin: Standin
) -> None:
    bulletin_id, link_id = seed(session)
    settings = make_settings(tmp_path, database_url=database_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "PYTHONPATH": str(REPO),
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "var"),
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(tmp_path / "no-plan"),  # the bulletin is due by its send_at
        "NEWSLETTER_TRANSPORT": "sendgrid",
        "NEWSLETTER_SENDGRID_HOST": standin.url,
        "NEWSLETTER_SENDGRID_API_KEY": "SG.fleet-test",
        "NEWSLETTER_BATCH_SIZE": str(BATCH),
        "NEWSLETTER_SCHEDULE_TICK_SECONDS": "1",
    }
    (tmp_path / "no-plan").mkdir()
    procs = Processes(env, tmp_path)
    # Every request answered after a delay (the mail accepted first, as SendGrid does): the
    # send of 12 batches takes seconds, so the kill lands in the middle of it.
    standin.script(*[Answer.slow(0.4) for _ in range(PEOPLE // BATCH * 3)])
    try:
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            procs.start(f"web-{i}", *CLI, "serve", "--port", str(port))
        leader = procs.start("scheduler-a", "scheduler.py")
        wait_for("scheduler A to lead", lambda: leader_present(settings))
        standby = procs.start("scheduler-b", "scheduler.py")
        assert standin.at(3).wait(WAIT), procs.log("scheduler-a")
        leader.send_signal(signal.SIGKILL)  # mid-send: a batch is in flight right now
        leader.wait()
        assert len(standin.accepted) < PEOPLE // BATCH, "the kill came after the send ended"

        def sent() -> bool:
            with Session(engine) as s:
                return s.get(Bulletin, bulletin_id).status == BulletinStatus.sent  # type: ignore[union-attr]

        wait_for("the standby to resume and finish the send", sent)
        assert standby.poll() is None
        assert "resuming it" in procs.log("scheduler-b")

        with Session(engine) as s:
            ledger = Counter(str(st) for st in s.exec(select(Delivery.status)).all())
            delivery_ids = [i for i in s.exec(select(Delivery.id).order_by(col(Delivery.id))) if i]
        counts = standin.per_recipient()
        assert len(delivery_ids) == PEOPLE
        assert max(counts.values()) == 1, "somebody got the bulletin twice"
        assert set(ledger) <= {"sent", "unknown"}
        assert ledger["unknown"] <= BATCH  # at most the one batch in flight
        assert ledger["sent"] + ledger["unknown"] == PEOPLE

        # Clicks spread over both web processes: every one counted exactly once.
        wait_for(
            "both web processes",
            lambda: all(_healthy(f"http://127.0.0.1:{p}/healthz") for p in ports),
        )
        targets = [
            f"http://127.0.0.1:{ports[n % 2]}/c/"
            f"{delivery_token(settings.secret, delivery_ids[n % PEOPLE])}/{link_id}"
            for n in range(CLICKS)
        ]
        with (
            httpx.Client(follow_redirects=False, timeout=30) as client,
            ThreadPoolExecutor(16) as pool,
        ):
            answers = list(pool.map(lambda url: client.get(url).status_code, targets))
        assert answers == [302] * CLICKS
        with Session(engine) as s:
            clicks = s.exec(
                select(func.count()).select_from(Event).where(col(Event.type) == EventType.click)
            ).one()
        assert clicks == CLICKS

        # A person resends the unknown batch deliberately: then nobody is missing.
        resend = subprocess.run(
            [sys.executable, *CLI, "bulletin", "send", MONTH, "--retry-unknown", "--yes"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert resend.returncode == 0, resend.stderr[-2000:]
        counts = standin.per_recipient()
        everyone = {f"fleet{n}@example.org" for n in range(PEOPLE)}
        assert set(counts) == everyone, "somebody never got the bulletin"
        twice = {email for email, n in counts.items() if n > 1}
        assert len(twice) <= ledger["unknown"]  # only the in-flight batch, under its rule
        assert max(counts.values()) <= 2
        with Session(engine) as s:
            statuses = set(s.exec(select(Delivery.status)).all())
        assert statuses == {DeliveryStatus.sent}
    finally:
        procs.stop_all()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
