"""Subscribers, list uploads, list health and API tokens in Debian's Chromium against a real
server: an admin uploads an agency's list, checks the preview, applies it, finds a person,
downloads everything held, erases them, and creates and revokes a token; axe on every page."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_subscriber, make_user
from tests.web.staff.support import PASSWORD, SECRET

pytestmark = pytest.mark.browser
SHOTS = REPO / "var" / "screenshots"


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Settings, Engine]]:
    db = tmp_path / "lists.db"
    shutil.copyfile(request.getfixturevalue("_sqlite_template"), db)
    engine = make_engine(f"sqlite:///{db}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(32)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(tmp_path, database_url=f"sqlite:///{db}", public_base_url=base)
    app = create_app(settings, engine=engine)  # the real clock: TOTP codes are real codes
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base, settings, engine
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


def _check(page: Any, name: str) -> None:
    """No serious or critical axe violation, and a screenshot for a person to look at."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in bad
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lists-{name}.png"), full_page=True)


def test_an_admin_syncs_a_list_with_a_preview_finds_and_erases_a_person_and_manages_tokens(
    site: tuple[str, Settings, Engine], chromium: Any, tmp_path: Path
) -> None:
    base, _settings, engine = site
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        admin = make_user(session, email="admin@example.org", roles=["admin"], totp_secret=SECRET)
        for n in range(10):
            make_subscriber(
                session,
                email=f"officer{n}@police.example.org",
                name=f"Officer {n}",
                agency="police",
            )
        session.commit()
        admin_email = admin.email
    csv_file = tmp_path / "police-july.csv"
    csv_file.write_text(
        "email,name,agency,audiences\n"
        + "".join(f"officer{n}@police.example.org,Officer {n},police,children\n" for n in range(9))
        + "recruit@police.example.org,Rae Recruit,police,both\nnot-an-address,,,\n",
        encoding="utf-8",
    )

    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.goto(f"{base}/admin/subscribers")
    page.get_by_label("Email address").fill(admin_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Security code").fill(pyotp.TOTP(SECRET).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Subscribers")).to_be_visible()
    _check(page, "1-search")

    page.get_by_role("link", name="Upload a list").click()
    expect(page.get_by_role("heading", name="Upload a list")).to_be_visible()
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    _check(page, "2-upload-errors")
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_label("An agency's complete list (sync)").check()
    page.get_by_label("Agency", exact=True).select_option("police")
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", name="Sync of police: check the changes")).to_be_visible()
    expect(page.get_by_text("1 of 10 active people")).to_be_visible()
    _check(page, "3-preview")
    with Session(engine) as session:
        assert len(session.exec(select(Subscriber)).all()) == 10  # nothing written yet
    page.get_by_role("button", name="Apply these changes to the police list").click()
    expect(
        page.get_by_text("1 added, 0 changed, 0 back, 1 left the agency, 1 rejected")
    ).to_be_visible()
    _check(page, "4-applied")

    page.get_by_role("link", name="List health by agency").click()
    expect(page.get_by_role("heading", name="List health by agency")).to_be_visible()
    _check(page, "5-health")

    page.goto(f"{base}/admin/subscribers")
    page.get_by_label("Email or name").fill("recruit")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="recruit@police.example.org").click()
    expect(page.get_by_role("heading", name="recruit@police.example.org")).to_be_visible()
    _check(page, "6-person")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download everything held (JSON)").click()
    assert '"email": "recruit@police.example.org"' in Path(download.value.path()).read_text()
    page.get_by_role("link", name="Erase this person").click()
    expect(page.get_by_role("heading", name="Erase recruit@police.example.org?")).to_be_visible()
    _check(page, "7-erase")
    page.get_by_role("button", name="Erase recruit@police.example.org").click()
    expect(page.get_by_text("recruit@police.example.org erased")).to_be_visible()

    page.goto(f"{base}/admin/tokens")
    page.get_by_label("Name").fill("HR feed")
    page.get_by_label("subscribers:write").check()
    page.get_by_role("button", name="Create the token").click()
    expect(page.get_by_role("heading", name="Token HR feed created")).to_be_visible()
    _check(page, "8-token-created")
    assert re.fullmatch(r"nl_[A-Za-z0-9_-]{43}", page.get_by_label("Token").input_value())
    page.get_by_role("link", name="Back to API tokens").click()
    page.get_by_role("button", name="Revoke HR feed").click()
    expect(page.get_by_text("The token HR feed is revoked")).to_be_visible()
    _check(page, "9-tokens")
    page.get_by_role("link", name="API").click()
    expect(page.get_by_role("heading", name=re.compile("newsletter API"))).to_be_visible()
    expect(page.get_by_text("/api/v1/subscribers/{email}/unsubscribe").first).to_be_visible()
    _check(page, "10-api-reference")
    with Session(engine) as session:
        statuses = dict(session.exec(select(Subscriber.email, Subscriber.status)).all())
        erased = session.exec(
            select(Subscriber).where(col(Subscriber.status) == SubscriberStatus.erased)
        ).all()
    assert statuses["officer9@police.example.org"] == SubscriberStatus.left
    assert len(erased) == 1
