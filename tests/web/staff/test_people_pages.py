"""Admins manage people in the browser: invite (emailed single-use link), roles, remove; and
everyone's forgotten passwords: the same answer either way, single-use expiring links."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, User, utcnow
from tests.factories import make_user
from tests.web.staff.support import SECRET, post_form, sign_in, sign_in_fully, staff_client


def _mails(settings: Settings) -> list[tuple[str, str]]:
    folder = Path(settings.data_dir, "outbox", "notifications")
    found = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        mail = message_from_bytes(path.read_bytes())
        body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        found.append((str(mail["To"]), body))
    return found


def _link(body: str) -> str:
    match = re.search(r"http://127\.0\.0\.1:8000(/admin/\S+)", body)
    assert match, body
    return match.group(1)


def _actions(session: Session) -> list[str]:
    session.expire_all()
    rows = session.exec(select(ActivityEntry.action).order_by(col(ActivityEntry.id))).all()
    session.rollback()
    return list(rows)


def test_an_admin_invites_a_person_who_chooses_a_password_once_and_signs_in(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    session.commit()
    with (
        staff_client(settings, engine, clock) as client,
        staff_client(settings, engine, clock) as newcomer,
    ):
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        missing = post_form(
            client, "/admin/users", {"email": "not an address"}, page="/admin/users/new"
        )
        assert missing.status_code == 400
        assert 'href="#email"' in missing.text
        assert 'href="#roles"' in missing.text
        invited = post_form(
            client,
            "/admin/users",
            {"email": "New@Example.org", "roles": ["editor", "approver"]},
            page="/admin/users/new",
        )
        assert invited.status_code == 303
        listing = client.get("/admin/users")
        assert "Invitation sent to new@example.org" in listing.text
        assert "invited" in listing.text
        [(to, body)] = _mails(settings)
        assert to == "new@example.org"
        link = _link(body)
        page = newcomer.get(link)
        assert page.status_code == 200
        assert "Choose your password" in page.text
        mismatch = post_form(
            newcomer, link, {"password": "a long new password", "confirm": "other"}
        )
        assert mismatch.status_code == 400
        done = post_form(
            newcomer, link, {"password": "a long new password", "confirm": "a long new password"}
        )
        assert done.headers["location"] == "/admin/sign-in?done=invite"
        assert "Your password is set" in newcomer.get("/admin/sign-in?done=invite").text
        assert newcomer.get(link).status_code == 404  # single use
        assert sign_in(newcomer, "new@example.org", "a long new password").status_code == 303
        assert newcomer.get("/admin/").status_code == 200
    actions = _actions(session)
    assert actions[-5:] == [
        "user.add",
        "user.invite",
        "user.set_password",
        "user.invite_accepted",
        "user.sign_in",
    ]


def test_an_invitation_link_expires(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        post_form(
            client,
            "/admin/users",
            {"email": "late@example.org", "roles": "editor"},
            page="/admin/users/new",
        )
        [(_, body)] = _mails(settings)
        clock.advance(timedelta(days=settings.staff_invite_days, seconds=1))
        client.cookies.clear()
        expired = client.get(_link(body))
    assert expired.status_code == 404
    assert "This link does not work any more" in expired.text


def test_forgot_password_answers_the_same_for_a_known_and_an_unknown_address(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        known = post_form(client, "/admin/forgot-password", {"email": user.email})
        unknown = post_form(client, "/admin/forgot-password", {"email": "nobody@example.org"})
        assert known.status_code == unknown.status_code == 303
        assert (
            known.headers["location"]
            == unknown.headers["location"]
            == "/admin/forgot-password/sent"
        )
        [(to, body)] = _mails(settings)
        assert to == user.email
        link = _link(body)
        new = "a brand new long password"
        assert post_form(client, link, {"password": new, "confirm": new}).status_code == 303
        again = post_form(client, link, {"password": new, "confirm": new}, page="/admin/sign-in")
        assert again.status_code == 404
        assert sign_in(client, user.email, new).status_code == 303


def test_reset_requests_for_one_address_are_limited_without_telling_the_asker(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        answers = {
            post_form(client, "/admin/forgot-password", {"email": user.email}).status_code
            for _ in range(5)
        }
    assert answers == {303}
    assert len(_mails(settings)) == 3


def test_roles_change_and_removal_end_the_persons_sessions_and_are_logged(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    lead = make_user(session, roles=["editor"])
    session.commit()
    with (
        staff_client(settings, engine, clock) as client,
        staff_client(settings, engine, clock) as other,
    ):
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        sign_in_fully(other, clock, lead.email)
        page = f"/admin/users/{lead.id}"
        saved = post_form(client, f"{page}/roles", {"roles": ["editor", "approver"]}, page=page)
        assert saved.status_code == 303
        assert "Roles of" in client.get(page).text
        last_admin = post_form(
            client, f"/admin/users/{admin.id}/roles", {"roles": "editor"}, page=page
        )
        assert last_admin.status_code == 400
        assert "the last admin" in last_admin.text
        removed = post_form(client, f"{page}/remove", {}, page=f"{page}/remove")
        assert removed.status_code == 303
        assert other.get("/admin/").status_code == 303
        assert client.get(page).status_code == 404
    session.expire_all()
    assert session.exec(select(User.email)).all() == [admin.email]
    session.rollback()
    actions = _actions(session)
    assert "role.grant" in actions
    assert "user.remove" in actions


def test_the_activity_page_filters_by_person_action_and_date(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    admin = make_user(session, roles=["admin"], totp_secret=SECRET)
    editor = make_user(session, email="lead@example.org", roles=["editor"])
    session.commit()
    with (
        staff_client(settings, engine, clock) as client,
        staff_client(settings, engine, clock) as other,
    ):
        sign_in(other, editor.email, "wrong password")
        sign_in_fully(client, clock, admin.email, secret=SECRET)
        everything = client.get("/admin/activity").text
        assert "user.sign_in_failed" in everything
        assert "user.sign_in" in everything
        failed = client.get("/admin/activity", params={"action": "user.sign_in_failed"}).text
        assert "user:lead@example.org" in failed
        assert "user.sign_in</strong>" not in failed
        by_actor = client.get("/admin/activity", params={"actor": admin.email}).text
        assert "user:lead@example.org" not in by_actor
        # Entries carry the real time of writing (the log is evidence, not simulation).
        tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
        assert (
            "No activity matches" in client.get("/admin/activity", params={"from": tomorrow}).text
        )
        assert client.get("/admin/activity", params={"from": "1 July"}).status_code == 422
