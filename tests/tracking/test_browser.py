"""A message opened in Debian's headless Chromium, against a real uvicorn server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from fastapi.responses import HTMLResponse
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import approve_bulletin, build_bulletin
from newsletter.clock import FakeClock
from newsletter.dispatch import send_bulletin
from newsletter.models import BulletinStatus, Delivery, Event, LinkKind
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.tokens import delivery_token
from newsletter.transports import make_transport
from newsletter.transports.base import Batch, Recipient
from newsletter.transports.memory import MemoryTransport
from newsletter.urls import click_url, open_url
from newsletter.web.app import create_app
from tests import plan_factories
from tests.conftest import REPO, make_settings
from tests.factories import make_bulletin, make_delivery, make_link, make_subscriber, make_variant

pytestmark = pytest.mark.browser


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock
    sock.close()


def serve(app: object, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return server, thread


def test_a_sent_message_opened_in_chromium_loads_the_pixel_and_a_click_lands_on_the_course(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    listening_socket: socket.socket,
    chromium: Any,
) -> None:
    port = listening_socket.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(tmp_path, database_url=database_url, public_base_url=base)

    bulletin = make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
    course = make_link(session, bulletin, url=f"{base}/courses/icon?level=2", title="ICON")
    make_link(session, bulletin, kind=LinkKind.honeypot, url=f"{base}/never")
    html = (
        "<html><body><p>Hello __NL_NAME__</p>"
        f'<p><a id="course" href="{click_url(settings, course.id or 0)}">Book ICON training</a></p>'
        f'<img id="pixel" src="{open_url(settings)}" width="1" height="1" alt="">'
        "</body></html>"
    )
    variant = make_variant(session, bulletin, agency="health", html=html)
    subscriber = make_subscriber(session, agency="health", name="Jo <Nurse>")
    delivery = make_delivery(session, bulletin, subscriber, variant)
    delivery.sent_at = delivery.sent_at - timedelta(hours=1) if delivery.sent_at else None
    session.commit()
    assert delivery.id is not None

    # Personalise it the way dispatch does, through a transport.
    transport = MemoryTransport()
    transport.send(
        Batch(
            subject=bulletin.subject,
            html=variant.html,
            text=variant.text,
            from_address=settings.from_address,
            bulletin_id=bulletin.id,
            recipients=[
                Recipient(
                    delivery_id=delivery.id,
                    email=subscriber.email or "",
                    name=subscriber.name,
                    values={
                        TOKEN: delivery_token(settings.secret, delivery.id),
                        SUBSCRIBER: subscriber.token,
                        NAME: subscriber.name,
                    },
                )
            ],
        )
    )
    message = transport.sent[0].html
    assert message is not None
    assert TOKEN not in message

    app = create_app(settings, engine=engine)

    @app.get("/courses/icon", include_in_schema=False)
    def course_page() -> HTMLResponse:
        return HTMLResponse("<html><body><h1>ICON: babies cry, you can cope</h1></body></html>")

    server, thread = serve(app, listening_socket)
    try:
        page = chromium.new_page()
        page.set_content(message, wait_until="load")
        assert page.evaluate("document.getElementById('pixel').naturalWidth") == 1
        with page.expect_navigation(url=f"{base}/courses/icon**"):
            page.click("#course")
        landed = urlsplit(page.url)
        assert landed.path == "/courses/icon"
        query = parse_qs(landed.query)
        assert query["level"] == ["2"]
        assert query["utm_source"] == ["newsletter"]
        assert query["utm_campaign"] == ["bulletin-2026-07"]
        assert query["utm_content"] == ["health"]
        assert "ICON" in page.inner_text("h1")
    finally:
        server.should_exit = True
        thread.join(10)

    with Session(engine) as s:
        stored = s.exec(select(Event).order_by(col(Event.id))).all()
    assert [(e.type, e.delivery_id) for e in stored] == [
        ("open", delivery.id),
        ("click", delivery.id),
    ]
    assert stored[1].link_id == course.id
    # Headless Chromium says so in its user agent: the rules rightly call it a machine.
    assert stored[1].user_agent is not None
    assert "HeadlessChrome" in stored[1].user_agent
    assert stored[1].machine_reason == "scanner-agent"


def test_a_sent_bulletin_from_the_outbox_in_chromium_records_its_open_and_a_course_click(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    listening_socket: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
    chromium: Any,
) -> None:
    """The whole path: the real template and link registry (assemble), approved and sent by
    dispatch through the outbox, the .eml parsed back and opened; the catalogue's learning
    site is served by the test server too (there is no network here)."""
    port = listening_socket.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setattr(plan_factories, "BASE", f"{base}/learning")
    settings = make_settings(tmp_path, database_url=database_url, public_base_url=base)
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    plan = plan_factories.make_plan()
    built = build_bulletin(session, settings, plan, "2026-07", clock=clock)
    approve_bulletin(session, settings, plan, "2026-07", by="lead@example.org", clock=clock)
    course = next(
        link
        for link in built.links
        if link.kind == LinkKind.course and (link.agencies is None or "health" in link.agencies)
    )
    subscriber = make_subscriber(session, agency="health", name="Sam")
    session.commit()
    assert course.id is not None

    outbox = make_transport(settings, "outbox")
    summary = send_bulletin(engine, settings, "2026-07", transport=outbox, clock=clock)
    outbox.close()
    assert summary.totals.sent == 1
    (eml,) = (settings.data_dir / "outbox" / "2026-07").glob("*.eml")
    parsed = message_from_bytes(eml.read_bytes(), policy=email_policy.default)
    html_part = parsed.get_body(preferencelist=("html",))
    assert html_part is not None
    message = html_part.get_content()
    assert subscriber.email is not None
    assert subscriber.email in parsed["To"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with Session(engine) as s:
        delivery = s.exec(select(Delivery)).one()
    assert delivery.id is not None
    token = delivery_token(settings.secret, delivery.id)
    assert f"{base}/o/{token}.gif" in message
    clock.advance(timedelta(hours=3))  # read later that morning, not by a scanner at delivery

    app = create_app(settings, engine=engine, clock=clock)

    @app.get("/learning/courses/{item}", include_in_schema=False)
    def learning_site(item: str) -> HTMLResponse:
        return HTMLResponse(f"<html><body><h1>Book {item}</h1></body></html>")

    server, thread = serve(app, listening_socket)
    try:
        page = chromium.new_page()
        page.set_content(message, wait_until="load")
        with page.expect_navigation(url=f"{base}/learning/**"):
            page.click(f'a[href="{base}/c/{token}/{course.id}"]')
        landed = urlsplit(page.url)
        assert f"{landed.scheme}://{landed.netloc}{landed.path}" == course.url
        query = parse_qs(landed.query)
        assert query["utm_campaign"] == ["bulletin-2026-07"]
        assert query["utm_content"] == ["health"]
        assert "Book" in page.inner_text("h1")
    finally:
        server.should_exit = True
        thread.join(10)

    with Session(engine) as s:
        stored = s.exec(select(Event).order_by(col(Event.id))).all()
    assert [(e.type, e.delivery_id, e.link_id) for e in stored] == [
        ("open", delivery.id, None),
        ("click", delivery.id, course.id),
    ]
