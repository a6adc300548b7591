"""The subscriber pages of the staff app: admins only, every change in the activity log."""

from __future__ import annotations

import json
import re

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.apitokens import authenticate
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, Subscriber, SubscriberStatus
from tests.conftest import REPO
from tests.factories import make_subscriber, make_user
from tests.web.staff.support import SECRET, csrf, post_form, sign_in_fully, staff_client


def admin(session: Session) -> str:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    user = make_user(session, roles=["admin"], totp_secret=SECRET)
    session.commit()
    return user.email


def actions(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(ActivityEntry.action, ActivityEntry.object).order_by(col(ActivityEntry.id))
        ).all()
    return [(a, o) for a, o in rows if not a.startswith("user.")]


def test_subscriber_pages_are_for_admins_only(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    editor = make_user(session, roles=["editor"])
    jo = make_subscriber(session, email="jo@police.example.org", agency="police")
    session.commit()
    with staff_client(settings, engine, clock) as client:
        assert client.get("/admin/subscribers").status_code == 303
        sign_in_fully(client, clock, editor.email)
        for path in (
            "/admin/subscribers",
            f"/admin/subscribers/{jo.id}",
            f"/admin/subscribers/{jo.id}/data.json",
            "/admin/lists/upload",
            "/admin/lists/health",
            "/admin/tokens",
        ):
            assert client.get(path).status_code == 403, path


def test_an_admin_finds_a_person_downloads_everything_held_and_erases_them(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    email = admin(session)
    jo = make_subscriber(
        session, email="jo.bloggs@police.example.org", name="Jo Bloggs", agency="police"
    )
    make_subscriber(session, email="kim@nhs.net", name="Kim", agency="health")
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, email, secret=SECRET)
        found = client.get("/admin/subscribers", params={"q": "bloggs"})
        assert "jo.bloggs@police.example.org" in found.text
        assert "kim@nhs.net" not in found.text
        by_agency = client.get(
            "/admin/subscribers", params={"agency": "health", "status": "active"}
        )
        assert "kim@nhs.net" in by_agency.text
        assert "jo.bloggs" not in by_agency.text
        page = client.get(f"/admin/subscribers/{jo.id}")
        assert "Jo Bloggs" in page.text
        held = client.get(f"/admin/subscribers/{jo.id}/data.json")
        assert held.headers["content-disposition"].startswith("attachment")
        data = json.loads(held.text)
        assert (data["email"], data["agency"], data["lawful_basis"]) == (
            "jo.bloggs@police.example.org",
            "police",
            "public-task",
        )
        unsubscribed = post_form(
            client,
            f"/admin/subscribers/{jo.id}/unsubscribe",
            {},
            page=f"/admin/subscribers/{jo.id}",
        )
        assert unsubscribed.status_code == 303
        assert "erase" in client.get(f"/admin/subscribers/{jo.id}/erase").text.lower()
        erased = post_form(client, f"/admin/subscribers/{jo.id}/erase", {})
        assert erased.status_code == 303
        assert client.get(f"/admin/subscribers/{jo.id}").status_code == 404
    with Session(engine) as check:
        row = check.get(Subscriber, jo.id)
        assert row is not None
        assert (row.status, row.email) == (SubscriberStatus.erased, None)
    assert actions(engine) == [
        ("subscriber.export", f"subscriber:{jo.id}"),
        ("subscriber.unsubscribe", f"subscriber:{jo.id}"),
        ("subscriber.erase", f"subscriber:{jo.id}"),
    ]


def test_an_upload_shows_the_preview_and_writes_only_when_applied(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    email = admin(session)
    for n in range(10):
        make_subscriber(session, email=f"officer{n}@police.example.org", agency="police")
    session.commit()
    header = "email,name,agency,audiences\n"
    half = header + "".join(f"officer{n}@police.example.org,,,\n" for n in range(5))
    nine = (
        header
        + "".join(f"officer{n}@police.example.org,,,\n" for n in range(9))
        + "new@police.example.org,New,,\nbad@@x,,,\n"
    )
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, email, secret=SECRET)
        token = csrf(client, "/admin/lists/upload")
        form = {"csrf": token, "mode": "sync", "agency": "police", "max_leavers": "20"}
        refused = client.post(
            "/admin/lists/upload", data=form, files={"file": ("police.csv", half, "text/csv")}
        )
        assert refused.status_code == 200
        assert "This sync would be refused" in refused.text
        assert "Apply these changes" not in refused.text
        preview = client.post(
            "/admin/lists/upload", data=form, files={"file": ("police.csv", nine, "text/csv")}
        )
        assert "1 of 10 active people" in preview.text
        assert "bad address" in preview.text
        with Session(engine) as check:
            assert len(check.exec(select(Subscriber)).all()) == 10
        upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
        assert upload_id is not None
        applied = client.post(
            "/admin/lists/apply",
            data={
                "csrf": csrf(client, "/admin/lists/upload"),
                "upload_id": upload_id.group(1),
                "file_name": "police.csv",
                "mode": "sync",
                "agency": "police",
                "max_leavers": "20",
            },
        )
        assert applied.status_code == 303
        assert (
            "1 added, 0 changed, 0 back, 1 left the agency, 1 rejected"
            in client.get("/admin/subscribers").text
        )
        health = client.get("/admin/lists/health")
        assert health.status_code == 200
        assert "Police" in health.text
    with Session(engine) as check:
        left = check.exec(
            select(Subscriber.email).where(col(Subscriber.status) == SubscriberStatus.left)
        ).all()
    assert left == ["officer9@police.example.org"]
    assert actions(engine)[-1][0] == "list.sync"


def test_an_admin_creates_a_token_sees_it_once_and_revokes_it(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    email = admin(session)
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, email, secret=SECRET)
        missing = post_form(client, "/admin/tokens", {"name": ""})
        assert missing.status_code == 400
        assert "Choose at least one permission" in missing.text
        created = post_form(
            client, "/admin/tokens", {"name": "HR feed", "scopes": ["subscribers:read"]}
        )
        secret = re.search(r"nl_[A-Za-z0-9_-]{43}", created.text)
        assert secret is not None
        listing = client.get("/admin/tokens").text
        assert "HR feed" in listing
        assert secret.group(0) not in listing
        with Session(engine) as check:
            token = authenticate(check, secret.group(0), now=clock.now())
            assert token is not None
            token_id = token.id
            check.commit()
        revoked = post_form(client, f"/admin/tokens/{token_id}/revoke", {}, page="/admin/tokens")
        assert revoked.status_code == 303
        with Session(engine) as check:
            assert authenticate(check, secret.group(0), now=clock.now()) is None
    assert [a for a, _o in actions(engine)] == ["token.create", "token.revoke"]
