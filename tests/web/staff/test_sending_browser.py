"""Sending from the browser, in Debian's Chromium against a real server and a real scheduler
(a ``SchedulerService`` leading in a thread, ticking every second): after approval, the editor
confirms "send now"; the scheduler carries the request out through the outbox with a
deliberately slow transport (each batch waits at a gate the test opens); the progress page's
figures move on the same page without a reload; a stop mid-send, then a resume, leaves nobody
sent twice (the outbox is counted per recipient). An axe check on every page; screenshots
(copied to docs/ when UPDATE_SCREENSHOTS is set)."""

from __future__ import annotations

import email
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.assemble import approve_bulletin, build_bulletin
from newsletter.clock import Clock, FakeClock
from newsletter.config import Settings
from newsletter.dispatch import send_bulletin
from newsletter.models import ActivityEntry, Bulletin
from newsletter.plan import current_plan
from newsletter.schedule import SchedulerService, default_deps, leadership_for
from newsletter.transports import Batch, RecipientResult, Transport, make_transport
from tests.factories import make_subscriber
from tests.web.staff.test_plan_browser import _axe, _shot, _sign_in, site

pytestmark = pytest.mark.browser
__all__ = ["site"]

MONTH = "2026-12"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # the site's clock: December is still to come
PER_AGENCY = 20
BATCH = 5
WAIT = 30_000  # ms: a busy machine may take a while; every wait ends as soon as it is true


class GatedTransport:
    """The outbox, slowed down: each batch waits until the test lets one through."""

    def __init__(self, inner: Transport, gate: threading.Semaphore) -> None:
        self.inner = inner
        self.gate = gate
        self.name = inner.name
        self.max_batch = inner.max_batch

    def send(self, batch: Batch) -> list[RecipientResult]:
        if not self.gate.acquire(timeout=120):
            raise AssertionError("the test never let this batch through")
        return self.inner.send(batch)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def scheduler(
    site: tuple[str, Settings, Engine],
) -> Iterator[tuple[threading.Semaphore, threading.Event]]:
    """A leading scheduler in a thread, its sends through the gated outbox; it has ticked
    once when the fixture returns."""
    _base, settings, engine = site
    settings.schedule_tick_seconds = 1
    settings.batch_size = BATCH
    gate = threading.Semaphore(0)

    def gated_send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
        transport = GatedTransport(make_transport(settings), gate)
        try:
            return send_bulletin(
                engine,
                settings,
                month,
                transport=transport,
                clock=clock,
                started_by="the scheduler",
            )
        finally:
            transport.close()

    service = SchedulerService(
        settings,
        engine=engine,
        clock=FakeClock(NOW),
        deps=replace(default_deps(), send=gated_send),
        leadership=leadership_for(settings),
        name="browser-journey",
        standby_retry=0.2,
    )
    ticked = threading.Event()
    beat = service._beat

    def beat_and_tell() -> None:
        beat()
        ticked.set()

    service._beat = beat_and_tell  # type: ignore[method-assign]
    service.start_in_thread()
    try:
        assert ticked.wait(60), "the scheduler never ticked"
        yield gate, ticked
    finally:
        gate.release(1000)  # never leave a send waiting
        service.stop_thread(timeout=30)


def _approved_december(settings: Settings, engine: Engine) -> None:
    clock = FakeClock(NOW)
    with Session(engine) as session:
        for agency in ("police", "health"):
            for n in range(PER_AGENCY):
                make_subscriber(session, email=f"{agency}{n}@example.org", agency=agency)
        plan = current_plan(session, settings)
        build_bulletin(session, settings, plan, MONTH, clock=clock)
        approve_bulletin(session, settings, plan, MONTH, by="carol@example.org", clock=clock)
        session.commit()


def _outbox_counts(settings: Settings) -> Counter[str]:
    folder = Path(settings.data_dir, "outbox", MONTH)
    counts: Counter[str] = Counter()
    for path in folder.glob("*.eml"):
        counts[parseaddr(email.message_from_bytes(path.read_bytes())["To"])[1]] += 1
    return counts


def test_send_now_is_carried_out_by_the_scheduler_watched_live_stopped_and_resumed_once_each(
    site: tuple[str, Settings, Engine],
    scheduler: tuple[threading.Semaphore, threading.Event],
    chromium: Any,
    tmp_path: Path,
) -> None:
    base, settings, engine = site
    gate, _ticked = scheduler
    _approved_december(settings, engine)
    page_url = f"{base}/admin/bulletins/{MONTH}"
    ann = _sign_in(chromium, base, "ann@example.org")

    # The bulletin page offers the send; its confirmation shows who gets it, per agency.
    ann.goto(page_url)
    expect(ann.locator("#status")).to_have_text("approved")
    _axe(ann)
    ann.get_by_role("link", name="Send December 2026 now").click()
    expect(ann.get_by_role("heading", level=1)).to_have_text("Send December 2026 now?")
    expect(ann.locator("#recipients")).to_contain_text("40 people")
    expect(ann.locator("#recipients")).to_contain_text("Police")
    expect(ann.locator("#scheduler")).to_contain_text("checks every second")
    _axe(ann)
    _shot(ann, tmp_path, "bulletin-send-now.png")
    ann.get_by_role("button", name="Send December 2026 now").click()

    # The progress page: the scheduler picks the request up; its figures move in place.
    ann.wait_for_url(f"{page_url}/progress")
    expect(ann.get_by_role("alert")).to_contain_text("Recorded: the scheduler sends")
    ann.evaluate("window.sameProgressPage = true")
    expect(ann.locator("#progress-status")).to_have_text("sending", timeout=WAIT)
    expect(ann.locator("#total-to-send")).to_have_text("40", timeout=WAIT)
    expect(ann.locator("#where")).to_contain_text("Sending in the scheduler: process ")
    gate.release(2)
    expect(ann.locator("#total-sent")).to_have_text("10", timeout=WAIT)
    expect(ann.locator("#progress-percent")).to_have_text("25", timeout=WAIT)
    expect(ann.locator("#total-to-send")).to_have_text("30", timeout=WAIT)
    assert ann.evaluate("window.sameProgressPage") is True  # no reload so far
    _axe(ann)
    _shot(ann, tmp_path, "bulletin-progress.png")

    # Stop after the batch in flight: the batch waiting at the gate finishes, nothing more.
    ann.get_by_role("button", name="Stop after this batch").click()
    expect(ann.get_by_role("alert")).to_contain_text("will stop after the batch in flight")
    expect(ann.locator("#progress-status")).to_have_text("stopped")
    gate.release(1)
    expect(ann.locator("#ended")).to_be_visible(timeout=WAIT)
    expect(ann.locator("#total-sent")).to_have_text("15")
    ann.get_by_role("link", name="See the results").click()
    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        assert bulletin.status == "stopped"
    expect(ann.locator("#resume-link")).to_be_visible()
    _axe(ann)

    # A person resumes it: the scheduler sends the rest, once, and the page reaches 100%.
    ann.get_by_role("link", name="Resume the send").click()
    expect(ann.get_by_role("heading", level=1)).to_have_text("Resume the send of December 2026?")
    expect(ann.locator("#recipients")).to_contain_text("25 people", timeout=WAIT)
    _axe(ann)
    ann.get_by_role("button", name="Resume the send of December 2026").click()
    ann.wait_for_url(f"{page_url}/progress")
    ann.evaluate("window.sameProgressPage = true")
    expect(ann.locator("#total-sent")).to_have_text("15")
    gate.release(100)
    expect(ann.locator("#progress-percent")).to_have_text("100", timeout=WAIT)
    expect(ann.locator("#total-sent")).to_have_text("40", timeout=WAIT)
    expect(ann.locator("#total-to-send")).to_have_text("0")
    expect(ann.locator("#progress-status")).to_have_text("sent", timeout=WAIT)
    expect(ann.locator("#ended")).to_be_visible(timeout=WAIT)
    assert ann.evaluate("window.sameProgressPage") is True  # the same page all along
    ann.get_by_role("link", name="See the results").click()
    expect(ann.locator("#outcomes")).to_contain_text("Delivered")
    _axe(ann)
    _shot(ann, tmp_path, "bulletin-sent.png")

    counts = _outbox_counts(settings)
    assert len(counts) == 2 * PER_AGENCY
    assert set(counts.values()) == {1}  # nobody sent twice
    with Session(engine) as session:
        done = [
            (e.actor, e.action)
            for e in session.exec(
                select(ActivityEntry)
                .where(col(ActivityEntry.action).startswith("bulletin."))
                .order_by(col(ActivityEntry.id))
            )
        ]
    assert done == [
        ("ann@example.org", "bulletin.send_now"),
        ("ann@example.org", "bulletin.stop"),
        ("ann@example.org", "bulletin.resume_send"),
    ]


def test_the_editor_moves_the_send_time_then_pauses_and_resumes_the_month_in_the_browser(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, settings, engine = site
    _approved_december(settings, engine)
    page_url = f"{base}/admin/bulletins/{MONTH}"
    ann = _sign_in(chromium, base, "ann@example.org")

    ann.goto(page_url)
    ann.get_by_role("link", name="Change the send time").click()
    _axe(ann)
    _shot(ann, tmp_path, "bulletin-schedule.png")
    ann.get_by_label("Send date").fill("2026-12-15")
    ann.get_by_label("Send time").fill("07:30")
    ann.get_by_role("button", name="Check the new send time").click()
    expect(ann.locator("#new-time")).to_have_text("Tuesday 15 December 2026, 7:30am")
    expect(ann.locator("#move-summary")).to_contain_text("Stays: carol@example.org approved")
    _axe(ann)
    ann.get_by_role("button", name="Move December 2026 to Tuesday 15 December 2026, 7:30am").click()
    expect(ann.get_by_role("alert")).to_contain_text("its approval stands")
    expect(ann.locator("#status")).to_have_text("approved")

    ann.get_by_role("link", name="Pause December 2026").click()
    _axe(ann)
    ann.get_by_role("button", name="Pause December 2026").click()
    expect(ann.locator("#status")).to_have_text("paused")
    ann.get_by_role("link", name="Resume December 2026").click()
    expect(ann.get_by_role("heading", level=1)).to_have_text("Resume December 2026?")
    _axe(ann)
    ann.get_by_role("button", name="Resume December 2026").click()
    expect(ann.locator("#status")).to_have_text("approved")
    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        assert bulletin.send_at == datetime(2026, 12, 15, 7, 30, tzinfo=UTC)
        assert not bulletin.schedule_paused
