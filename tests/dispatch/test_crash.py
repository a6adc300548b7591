"""A send killed with SIGKILL at random points and re-run: nobody gets two messages.

A child process sends a 20,000-recipient bulletin through the outbox transport; the test kills
it at random points of its progress (once a random number more messages are in the outbox,
often mid-batch), re-runs it, several times, then lets it finish. Points defined by progress,
not by wall time, so every kill lands however fast the machine is. The outbox file names carry
the delivery id, so counting files per id counts messages per recipient.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, insert, select
from sqlmodel import Session, col

from newsletter.models import BulletinStatus, Delivery, DeliveryStatus, Subscriber
from newsletter.tokens import address_hash
from tests.conftest import REPO, TEST_SECRET
from tests.factories import make_agency, make_bulletin, make_variant

RECIPIENTS = 20_000
BATCH = 500
KILLS = 4
DEADLINE = 300  # seconds a child may take to reach its kill point (a bound, not a timing)
POLL = 0.005

CHILD = f"""
import sys
from newsletter.clock import SystemClock
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.dispatch import send_bulletin
from newsletter.transports.outbox import OutboxTransport

url, data_dir, month, secret = sys.argv[1:5]
settings = Settings(_env_file=None, data_dir=data_dir, database_url=url, secret_key=secret,
                    batch_size={BATCH})
engine = make_engine(url)
outbox = OutboxTransport(settings.data_dir / "outbox")
summary = send_bulletin(engine, settings, month, transport=outbox, clock=SystemClock())
print(summary.status, summary.totals)
"""


def seed(session: Session) -> str:
    agencies = ["health", "police", "education", "housing"]
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    for agency in agencies:
        make_agency(session, slug=agency)
        make_variant(session, bulletin, agency=agency, html="<p>__NL_NAME__ __NL_TOKEN__</p>")
    rows = []
    for n in range(RECIPIENTS):
        email = f"crash{n}@example.org"
        rows.append(
            {
                "email": email,
                "address_hash": address_hash(email),
                "name": f"Person {n}",
                "agency": agencies[n % len(agencies)],
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


def _messages(outbox: Path) -> int:
    try:
        return sum(1 for entry in os.scandir(outbox) if entry.name.endswith(".eml"))
    except FileNotFoundError:
        return 0


def run_child(url: str, data_dir: Path, month: str, *, kill_at: int | None) -> int:
    """Run a send; with ``kill_at``, SIGKILL it as soon as the outbox holds that many
    messages (the child's own progress), polled until a deadline."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(data_dir), month, TEST_SECRET],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if kill_at is None:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err.decode()[-2000:]
        return proc.returncode
    outbox = data_dir / "outbox" / month
    deadline = time.monotonic() + DEADLINE
    while _messages(outbox) < kill_at and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise AssertionError(f"the send did not reach {kill_at} messages in {DEADLINE}s")
        time.sleep(POLL)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (
        f"the child ended by itself before message {kill_at}: {err.decode()[-2000:]}"
    )
    return proc.returncode


def test_killing_a_send_at_random_points_never_sends_anyone_two_messages(
    engine: Engine, session: Session, database_url: str, tmp_path: Path
) -> None:
    month = seed(session)
    data_dir = tmp_path / "var"
    seed_value = int(time.time())
    rng = random.Random(seed_value)
    killed = 0
    for _ in range(KILLS):
        # Somewhere within the next three batches: mostly mid-batch, never past the end.
        kill_at = _messages(data_dir / "outbox" / month) + rng.randint(1, 3 * BATCH)
        code = run_child(database_url, data_dir, month, kill_at=kill_at)
        killed += code == -signal.SIGKILL
    run_child(database_url, data_dir, month, kill_at=None)

    files = Counter(
        int(path.name.split("-")[0][1:]) for path in (data_dir / "outbox" / month).glob("*.eml")
    )
    session.expire_all()
    rows = session.execute(
        select(col(Delivery.id), col(Delivery.status), col(Delivery.batch))
    ).all()
    by_status = Counter(str(status) for _, status, _ in rows)
    unknown_batches = {batch for _, status, batch in rows if status == DeliveryStatus.unknown}
    sent_ids = {d_id for d_id, status, _ in rows if status == DeliveryStatus.sent}

    context = f"seed {seed_value}, {killed} kills landed, ledger {dict(by_status)}"
    print(context)
    assert killed == KILLS, context
    assert len(rows) == RECIPIENTS, context
    assert max(files.values()) == 1, f"a recipient got two messages ({context})"
    assert set(by_status) <= {"sent", "unknown"}, context
    assert len(unknown_batches) <= killed, context
    assert by_status["unknown"] <= killed * BATCH, context
    assert sent_ids <= set(files), f"a delivery marked sent has no message ({context})"
