"""The sign-up journey in Debian's headless Chromium, against a real uvicorn server on loopback:
form -> confirmation email read from the outbox -> link -> subscribed, agency chosen by domain."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.web.app import create_app
from tests.conftest import REPO

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"


@pytest.fixture
def base_url(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[str]:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # start-up, not a result, is waited for
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def accessible(page: Any, name: str) -> None:
    """No serious or critical axe violation; a screenshot for a person to look at."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        v["id"]
        for v in results.response["violations"]
        if v.get("impact") in {"serious", "critical"}
    ]
    assert bad == [], results.generate_report()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"signup-{name}.png"), full_page=True)


def confirmation_link(settings: Settings) -> str:
    [eml] = list((settings.data_dir / "outbox" / "notifications").glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"http://127\.0\.0\.1:8000(/subscribe/confirm/\S+)", body.get_content())
    assert match is not None
    return match.group(1)


def test_a_practitioner_signs_up_chooses_their_service_and_confirms_from_the_email(
    chromium: Any, base_url: str, settings: Settings, engine: Engine
) -> None:
    page = chromium.new_page()
    page.goto(f"{base_url}/subscribe")
    accessible(page, "1-form")
    page.get_by_role("button", name="Sign up and send me the confirmation email").click()
    assert page.get_by_role("heading", name="There is a problem").is_visible()
    accessible(page, "2-errors")
    page.get_by_label("Your name").fill("Sam Patel")
    page.get_by_label("Work email address").fill("Sam.Patel@council.example.org")
    page.get_by_label("Adults").check()
    page.get_by_role("button", name="Sign up and send me the confirmation email").click()
    page.get_by_role("heading", name="Which service do you work for?").wait_for()
    accessible(page, "3-agency")
    page.get_by_label("Adult social care").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    accessible(page, "4-check-email")

    page.goto(base_url + confirmation_link(settings))
    accessible(page, "5-confirm")
    page.get_by_role("button", name="Confirm my subscription").click()
    page.get_by_role("heading", name="You are subscribed").wait_for()
    accessible(page, "6-done")
    page.goto(base_url + confirmation_link(settings))  # the same link again
    page.get_by_role("heading", name="This link has already been used or is not valid").wait_for()
    accessible(page, "7-used")
    with Session(engine) as session:
        sam = session.exec(select(Subscriber)).one()
    assert (sam.email, sam.agency, sam.status, sam.serves_adults, sam.serves_children) == (
        "sam.patel@council.example.org",
        "adult-social-care",
        SubscriberStatus.active,
        True,
        False,
    )
    page.close()
