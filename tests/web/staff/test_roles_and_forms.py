"""Who may use which page (403 for a missing role), CSRF on every form, and the navigation."""

from __future__ import annotations

import re

from fastapi import Depends
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import User
from newsletter.web.app import create_app
from newsletter.web.staff.auth import StaffUser, require, staff_router
from tests.factories import make_user
from tests.web.staff.support import SECRET, csrf, sign_in_fully, staff_client

ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/activity"]


def test_a_page_without_the_role_it_needs_answers_403_and_says_which_role(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    editor = make_user(session, roles=["editor", "approver"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, editor.email)
        for path in ADMIN_PAGES:
            response = client.get(path)
            assert response.status_code == 403, path
            assert "needs the admin role" in response.text
        token = csrf(client, "/admin/")
        posted = client.post(
            "/admin/users", data={"csrf": token, "email": "x@example.org", "roles": "admin"}
        )
        assert posted.status_code == 403


def test_a_role_check_on_a_route_lets_holders_in_and_keeps_others_out(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    approver = make_user(session, roles=["approver"])
    editor = make_user(session, roles=["editor"])
    session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    router = staff_router()

    @router.get("/approvals-test")
    def approvals(user: User = Depends(require("approver"))) -> dict[str, str]:
        return {"who": user.email}

    @router.get("/anyone-test")
    def anyone(user: StaffUser) -> dict[str, str]:
        return {"who": user.email}

    app.include_router(router)
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/admin/approvals-test").status_code == 303
        sign_in_fully(client, clock, editor.email)
        assert client.get("/admin/approvals-test").status_code == 403
        assert client.get("/admin/anyone-test").json() == {"who": editor.email}
        client.cookies.clear()
        sign_in_fully(client, clock, approver.email)
        assert client.get("/admin/approvals-test").json() == {"who": approver.email}


def test_every_form_is_refused_without_its_csrf_token_or_with_another_browsers(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    other = make_user(session, roles=["editor"])
    session.commit()
    with (
        staff_client(settings, engine, clock) as client,
        staff_client(settings, engine, clock) as intruder,
    ):
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        sign_in_fully(intruder, clock, other.email)
        foreign = csrf(intruder, "/admin/")
        page = client.get("/admin/users/new").text
        forms = re.findall(r'<form method="post" action="([^"]+)"', page)
        assert "/admin/users" in forms
        for token in (None, "forged", foreign):
            data = {"email": "new@example.org", "roles": "editor"}
            if token is not None:
                data["csrf"] = token
            response = client.post("/admin/users", data=data)
            assert response.status_code == 403
            assert "The form has expired" in response.text
        assert client.post("/admin/sign-out").status_code == 403
        assert client.get("/admin/").status_code == 200  # still signed in
    with staff_client(settings, engine, clock) as stranger:  # no cookie at all
        anonymous_sign_in = stranger.post(
            "/admin/sign-in", data={"email": admin.email, "password": "x", "csrf": foreign}
        )
    assert anonymous_sign_in.status_code == 403


def test_the_navigation_shows_only_pages_that_exist_and_the_person_may_use(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    editor = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        nav = _nav(client.get("/admin/users").text)
        assert nav == [
            "Dashboard",
            "Calendar",
            "Plan",
            "Catalogue",
            "Bulletins",
            "Subscribers",
            "Reports",
            "Users",
            "Activity",
        ]
        client.cookies.clear()
        sign_in_fully(client, clock, editor.email)
        assert _nav(client.get("/admin/").text) == [
            "Dashboard",
            "Calendar",
            "Plan",
            "Catalogue",
            "Bulletins",
            "Reports",
        ]


def _nav(html: str) -> list[str]:
    block = html.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="[^"]+"(?: aria-current="page")?>([^<]+)</a>', block)
