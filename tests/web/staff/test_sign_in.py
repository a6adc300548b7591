"""Signing in: lock-outs, limits, sessions that end everywhere, timeouts, rehashing, TOTP."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter import ratelimit
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, StaffSession, User
from newsletter.passwords import verify_password
from newsletter.web.staff.sessions import COOKIE
from tests.factories import make_user
from tests.web.staff.support import (
    PASSWORD,
    SECRET,
    code_for,
    post_form,
    sign_in,
    sign_in_fully,
    staff_client,
)


def _actions(session: Session) -> list[str]:
    session.expire_all()
    rows = session.exec(select(ActivityEntry.action).order_by(col(ActivityEntry.id))).all()
    session.rollback()
    return list(rows)


def test_thirty_wrong_passwords_lock_the_account_and_the_right_one_waits_for_the_delay(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, email="comms@example.org", roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        for attempt in range(1, 30):
            wrong = sign_in(client, user.email, "not the password")
            assert wrong.status_code == 401, attempt
            assert "Email address or password not recognised" in wrong.text
        thirtieth = sign_in(client, user.email, "not the password")
        assert thirtieth.status_code == 429
        assert "Your account is locked" in thirtieth.text
        assert "30 times" in thirtieth.text

        refused = sign_in(client, user.email, PASSWORD)
        assert refused.status_code == 429
        assert "Your account is locked" in refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert COOKIE not in refused.cookies

        clock.advance(timedelta(minutes=settings.staff_lockout_minutes - 1))
        assert sign_in(client, user.email, PASSWORD).status_code == 429
        clock.advance(timedelta(minutes=1, seconds=1))
        assert sign_in(client, user.email, PASSWORD).status_code == 303
        assert client.get("/admin/").status_code == 200
    actions = _actions(session)
    assert actions.count("user.sign_in_failed") == 30
    assert actions.count("user.locked") == 1
    assert actions.count("user.sign_in_refused") == 2
    assert actions[-1] == "user.sign_in"


def test_a_right_password_clears_the_count_of_wrong_ones(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    for _ in range(ratelimit.SIGN_IN_ACCOUNT.max - 2):
        ratelimit.hit(session, ratelimit.SIGN_IN_ACCOUNT, str(user.id), now=clock.now())
    session.commit()
    with staff_client(settings, engine, clock) as client:
        assert sign_in(client, user.email, "wrong password").status_code == 401  # the 29th
        assert sign_in(client, user.email).status_code == 303
        client.cookies.clear()
        assert sign_in(client, user.email, "wrong password").status_code == 401
        assert sign_in(client, user.email, "wrong password").status_code == 401
    now = clock.now()
    assert ratelimit.peek(session, ratelimit.SIGN_IN_ACCOUNT, str(user.id), now=now).count == 3


def test_one_client_is_slowed_down_across_accounts_before_anything_is_hashed(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    for _ in range(ratelimit.SIGN_IN_CLIENT.max - 1):
        ratelimit.hit(session, ratelimit.SIGN_IN_CLIENT, "testclient", now=clock.now())
    session.commit()
    with staff_client(settings, engine, clock) as client:
        assert sign_in(client, "guess@example.org", "x").status_code == 401  # the 100th
        limited = sign_in(client, "guess@example.org", "x")
        assert limited.status_code == 429
        assert "Too many sign-in attempts" in limited.text
        assert "Retry-After" in limited.headers


def test_an_unknown_address_and_a_wrong_password_get_the_same_answer(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        unknown = sign_in(client, "nobody@example.org", PASSWORD)
        wrong = sign_in(client, user.email, "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.text.replace("nobody@example.org", user.email) == wrong.text


def test_a_copied_session_cookie_stops_working_after_sign_out(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        stolen = client.cookies[COOKIE]
        assert post_form(client, "/admin/sign-out", {}, page="/admin/").status_code == 303
        assert client.get("/admin/").status_code == 303
        client.cookies.set(COOKIE, stolen, domain="testserver.local", path="/admin")
        copy = client.get("/admin/")
    assert copy.status_code == 303
    assert copy.headers["location"].startswith("/admin/sign-in")


def test_signing_in_starts_a_new_session_id_whatever_cookie_the_browser_brought(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        client.cookies.set(
            COOKIE, "planted-by-an-attacker", domain="testserver.local", path="/admin"
        )
        sign_in_fully(client, clock, user.email)
        first = client.cookies[COOKIE]
        sign_in_fully(client, clock, user.email)
        second = client.cookies[COOKIE]
    assert first != "planted-by-an-attacker"
    assert second != first


def test_a_session_ends_after_the_idle_timeout_and_after_the_absolute_one(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    idle = timedelta(minutes=settings.staff_idle_minutes)
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        clock.advance(idle - timedelta(minutes=1))
        assert client.get("/admin/").status_code == 200
        clock.advance(idle - timedelta(minutes=1))
        assert client.get("/admin/").status_code == 200  # each request restarts the idle time
        clock.advance(idle)
        assert client.get("/admin/").status_code == 303

        sign_in_fully(client, clock, user.email)
        started = clock.now()
        limit = timedelta(hours=settings.staff_session_hours)
        while clock.now() + timedelta(minutes=29) < started + limit:
            clock.advance(timedelta(minutes=29))
            assert client.get("/admin/").status_code == 200  # busy all along...
        clock.set(started + limit)
        assert client.get("/admin/").status_code == 303  # ...and still out at the absolute limit


def test_changing_the_password_ends_every_other_session_of_that_person(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    new = "a much longer new password"
    with (
        staff_client(settings, engine, clock) as laptop,
        staff_client(settings, engine, clock) as phone,
    ):
        sign_in_fully(laptop, clock, user.email)
        sign_in_fully(phone, clock, user.email)
        changed = post_form(
            laptop,
            "/admin/account/password",
            {"current": PASSWORD, "new": new},
            page="/admin/account",
        )
        assert changed.status_code == 303
        page = laptop.get("/admin/account")
        assert page.status_code == 200
        assert "Your password has been changed" in page.text
        assert phone.get("/admin/").status_code == 303
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.password_hash is not None
    assert verify_password(new, stored.password_hash)


def test_an_old_scrypt_hash_still_signs_in_and_is_stored_as_argon2id(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    # Written by the previous passwords module: scrypt, n=2^14, r=8, p=1, for "correct horse battery".
    legacy = "scrypt$14$8$1$c2FsdHNhbHRzYWx0c2FsdA$" + _legacy_digest()
    user = make_user(session, roles=["editor"], password=None, password_hash=legacy)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        assert sign_in(client, user.email).status_code == 303
    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert verify_password(PASSWORD, stored.password_hash)
    assert "user.password_rehashed" in _actions(session)


def _legacy_digest() -> str:
    import base64
    import hashlib

    raw = hashlib.scrypt(PASSWORD.encode(), salt=b"saltsaltsaltsalt", n=1 << 14, r=8, p=1, dklen=32)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_sign_in_never_sends_the_browser_off_the_staff_pages(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        for target in ("https://evil.example/", "//evil.example/admin/", "/admin/\\evil"):
            client.cookies.clear()
            response = sign_in(client, user.email, next=target)
            assert response.headers["location"] == "/admin/"
        client.cookies.clear()
        ok = sign_in(client, user.email, next="/admin/activity?actor=x")
        assert ok.headers["location"] == "/admin/activity?actor=x"


def test_someone_with_a_second_factor_needs_a_fresh_code_and_the_password_alone_is_not_enough(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["approver"], totp_secret=SECRET)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        response = sign_in(client, user.email)
        assert response.headers["location"].startswith("/admin/two-factor")
        assert client.get("/admin/").status_code == 303  # half signed in is not signed in
        wrong = post_form(client, "/admin/two-factor", {"code": "000000"})
        assert wrong.status_code == 401
        code = code_for(clock)
        assert post_form(client, "/admin/two-factor", {"code": code}).status_code == 303
        assert client.get("/admin/").status_code == 200

        client.cookies.clear()
        sign_in(client, user.email)
        replay = post_form(client, "/admin/two-factor", {"code": code})
        assert replay.status_code == 401  # a code works once
        clock.advance(timedelta(seconds=30))
        assert post_form(client, "/admin/two-factor", {"code": code_for(clock)}).status_code == 303


def test_wrong_codes_are_limited_per_account(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"], totp_secret=SECRET)
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in(client, user.email)
        for _ in range(ratelimit.SECOND_FACTOR.max):
            assert post_form(client, "/admin/two-factor", {"code": "123456"}).status_code == 401
        limited = post_form(client, "/admin/two-factor", {"code": code_for(clock)})
    assert limited.status_code == 429


def test_an_admin_without_a_second_factor_must_set_one_up_before_any_page(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["admin"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        response = sign_in(client, user.email)
        assert response.headers["location"] == "/admin/two-factor/set-up"
        assert client.get("/admin/users").status_code == 303
        page = client.get("/admin/two-factor/set-up")
        assert page.status_code == 200
        assert "data:image/svg+xml" in page.text
        session.expire_all()
        stored = session.get(User, user.id)
        assert stored is not None
        assert stored.totp_secret is not None
        secret = stored.totp_secret
        session.rollback()
        assert secret in page.text
        assert "otpauth://totp/" in page.text
        bad = post_form(client, "/admin/two-factor/set-up", {"code": "000000"})
        assert bad.status_code == 400
        done = post_form(client, "/admin/two-factor/set-up", {"code": code_for(clock, secret)})
        assert done.status_code == 303
        assert client.get("/admin/users").status_code == 200
    assert "user.second_factor_on" in _actions(session)


def test_signing_out_deletes_the_session_row(
    settings: Settings, engine: Engine, session: Session, clock: FakeClock
) -> None:
    user = make_user(session, roles=["editor"])
    session.commit()
    with staff_client(settings, engine, clock) as client:
        sign_in_fully(client, clock, user.email)
        assert len(session.exec(select(StaffSession)).all()) == 1
        session.rollback()
        post_form(client, "/admin/sign-out", {}, page="/admin/")
    assert session.exec(select(StaffSession)).all() == []
