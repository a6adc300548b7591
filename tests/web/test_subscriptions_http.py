"""One-click unsubscribe as a mailbox provider sends it: a real HTTP POST to a real server.

uvicorn serves on a loopback socket that is already listening before the server thread
starts, so the client's connection waits in the kernel's backlog: no sleeps, no polling.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.web.app import create_app
from tests.factories import make_subscriber


@pytest.fixture
def base_url(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[str]:
    app = create_app(settings, engine=engine, clock=clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def subscriber(engine: Engine) -> Subscriber:
    with Session(engine, expire_on_commit=False) as session:
        row = make_subscriber(session)
        session.commit()
        return row


def status_of(engine: Engine, row: Subscriber) -> str:
    with Session(engine) as session:
        found = session.get(Subscriber, row.id)
        assert found is not None
        return found.status


# The two encodings RFC 8058 §3.2 names, exactly as a provider sends them (Google's example
# for form-urlencoded; multipart is what the RFC says a provider SHOULD send).
ENCODINGS = {
    "form-urlencoded": {
        "content": b"List-Unsubscribe=One-Click",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "multipart": {
        "content": (
            b"--b0undary\r\n"
            b'Content-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n"
            b"--b0undary--\r\n"
        ),
        "headers": {"Content-Type": "multipart/form-data; boundary=b0undary"},
    },
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_a_provider_one_click_post_over_http_unsubscribes_with_a_plain_200(
    base_url: str, engine: Engine, encoding: str
) -> None:
    jo = subscriber(engine)
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        # A link scanner's GET first: it must change nothing.
        assert client.get(f"{base_url}/u/{jo.token}").status_code == 200
        assert status_of(engine, jo) == SubscriberStatus.active
        response = client.post(f"{base_url}/u/{jo.token}", **ENCODINGS[encoding])  # type: ignore[arg-type]
    assert response.status_code == 200
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert status_of(engine, jo) == SubscriberStatus.unsubscribed
