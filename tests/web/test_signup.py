"""Public sign-up with double opt-in, over HTTP: the rules (pages as people use them are in
test_signup_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import PendingSignup, Subscriber, SubscriberStatus, Suppression
from newsletter.subscribers import erase
from newsletter.web.app import create_app
from tests.conftest import REPO, make_settings
from tests.factories import make_subscriber


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def outbox(settings: Settings) -> list[Path]:
    folder = settings.data_dir / "outbox" / "notifications"
    return (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.exists() else []
    )


def confirmation_link(settings: Settings, index: int = -1) -> str:
    message = message_from_bytes(outbox(settings)[index].read_bytes(), policy=email_policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    match = re.search(r"http://127\.0\.0\.1:8000(/subscribe/confirm/\S+)", body.get_content())
    assert match is not None
    return match.group(1)


def form_fields(client: TestClient) -> dict[str, str]:
    page = client.get("/subscribe")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return {"csrf": match.group(1)}


def sign_up(client: TestClient, email: str, **extra: str) -> tuple[int, str]:
    data = form_fields(client) | {"name": "Jo Bloggs", "email": email, "children": "yes"} | extra
    response = client.post("/subscribe", data=data)
    return response.status_code, response.text


def subscribers(engine: Engine) -> dict[str | None, Subscriber]:
    with Session(engine) as session:
        return {s.email: s for s in session.exec(select(Subscriber)).all()}


def pending_count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(PendingSignup)).one()


def test_a_sign_up_keeps_only_a_pending_record_until_the_link_is_used(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    code, page = sign_up(client, "Jo.Bloggs@Police.example.org")
    assert code == 200
    assert "Check your email" in page
    assert subscribers(engine) == {}
    assert pending_count(engine) == 1
    link = confirmation_link(settings)
    shown = client.get(link)
    assert "Confirm my subscription" in shown.text
    assert subscribers(engine) == {}  # a GET (a link scanner) changes nothing
    done = client.post(link)
    assert done.status_code == 200
    assert "You are subscribed" in done.text
    jo = subscribers(engine)["jo.bloggs@police.example.org"]
    assert (jo.status, jo.agency, jo.serves_children, jo.serves_adults) == (
        SubscriberStatus.active,
        "police",
        True,
        False,
    )
    assert (jo.source, jo.lawful_basis) == ("signup", "consent")
    assert "monthly learning bulletin" in jo.consent_wording
    assert "confirmed by the link" in jo.consent_source
    assert jo.consent_at is not None
    assert pending_count(engine) == 0


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        make_subscriber(session, email="known@police.example.org", agency="police")
        make_subscriber(
            session,
            email="gone@police.example.org",
            agency="police",
            status=SubscriberStatus.unsubscribed,
        )
        session.commit()
    pages = []
    for email in ("known@police.example.org", "gone@police.example.org", "new@police.example.org"):
        code, page = sign_up(client, email)
        pages.append((code, re.sub(r'name="csrf" value="[^"]+"', "", page)))
    assert pages[0] == pages[1] == pages[2]
    assert len(outbox(settings)) == 3


def test_a_confirmation_link_used_twice_or_after_72_hours_changes_nothing(
    client: TestClient, engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    sign_up(client, "jo@police.example.org")
    first = confirmation_link(settings)
    assert client.post(first).status_code == 200
    again = client.post(first)
    assert again.status_code == 404
    assert "already been used or is not valid" in again.text
    sign_up(client, "kim@police.example.org")
    late = confirmation_link(settings)
    clock.advance(timedelta(hours=72, seconds=1))
    expired = client.post(late)
    assert expired.status_code == 410
    assert "This link has expired" in expired.text
    assert set(subscribers(engine)) == {"jo@police.example.org"}
    forged = client.post(late[:-4] + "abcd")
    assert forged.status_code == 404


def test_expired_pending_sign_ups_are_purged(
    client: TestClient, engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    sign_up(client, "jo@police.example.org")
    clock.advance(timedelta(hours=73))
    sign_up(client, "kim@police.example.org")
    with Session(engine) as session:
        left = session.exec(select(PendingSignup.email)).all()
    assert left == ["kim@police.example.org"]


def test_an_erased_or_complained_address_comes_back_only_through_a_fresh_confirmation(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        gone = make_subscriber(session, email="gone@police.example.org", agency="police")
        erase(session, gone, now=gone.created_at)
        make_subscriber(
            session,
            email="angry@police.example.org",
            agency="police",
            status=SubscriberStatus.complained,
        )
        session.commit()
    sign_up(client, "gone@police.example.org")
    sign_up(client, "angry@police.example.org")
    assert subscribers(engine)["angry@police.example.org"].status == SubscriberStatus.complained
    assert "gone@police.example.org" not in subscribers(engine)
    for index in (0, 1):
        assert client.post(confirmation_link(settings, index)).status_code == 200
    found = subscribers(engine)
    assert found["gone@police.example.org"].status == SubscriberStatus.active
    assert found["angry@police.example.org"].status == SubscriberStatus.active
    with Session(engine) as session:
        assert session.exec(select(Suppression)).all() == []


def test_a_domain_of_several_agencies_asks_which_one(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    code, page = sign_up(client, "sam@council.example.org")
    assert code == 200
    assert "Which service do you work for?" in page
    assert "Children&#39;s social care" in page
    assert "Adult social care" in page
    assert outbox(settings) == []
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    data = {
        "csrf": csrf.group(1),
        "name": "Sam",
        "email": "sam@council.example.org",
        "children": "yes",
        "agency": "police",  # not one of the choices
    }
    assert client.post("/subscribe", data=data).status_code == 400
    data["agency"] = "adult-social-care"
    assert "Check your email" in client.post("/subscribe", data=data).text
    client.post(confirmation_link(settings))
    assert subscribers(engine)["sam@council.example.org"].agency == "adult-social-care"


def test_an_unknown_domain_joins_other_or_is_refused(
    engine: Engine, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    with TestClient(create_app(settings, engine=engine, clock=clock)) as client:
        sign_up(client, "pat@gmail.example.com")
        client.post(confirmation_link(settings))
    assert subscribers(engine)["pat@gmail.example.com"].agency == "other"
    strict = make_settings(
        tmp_path / "strict",
        database_url=settings.resolved_database_url,
        signup_unknown_domains="refuse",
    )
    with TestClient(create_app(strict, engine=engine, clock=clock)) as client:
        code, page = sign_up(client, "lee@gmail.example.com")
    assert code == 400
    assert "not from a partner agency" in page
    assert pending_count(engine) == 0


def test_bad_input_is_named_in_an_error_summary_and_nothing_is_stored(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    data = form_fields(client) | {"name": "", "email": "not an address"}
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    assert "There is a problem" in response.text
    for message in (
        "Enter your name",
        "Enter an email address in the correct format",
        "Select who you work with",
    ):
        assert message in response.text
    stale = client.post("/subscribe", data={"csrf": "1.abc", "name": "J", "email": "j@x.org"})
    assert stale.status_code == 400
    assert pending_count(engine) == 0
    assert outbox(settings) == []


@pytest.mark.parametrize(
    "name", ["Evil\r\nBcc: all@example.org", "Jo\u2028Bloggs", "Jo \u202egnp.exe", "Jo\x7f"]
)
def test_a_name_with_a_line_break_or_control_character_is_refused_and_nothing_is_stored(
    client: TestClient, engine: Engine, settings: Settings, name: str
) -> None:
    status, text = sign_up(client, "jo@nhs.net", name=name)
    assert status == 400
    assert "Enter your name on one line, without special characters" in text
    assert pending_count(engine) == 0
    assert outbox(settings) == []


def test_a_filled_honeypot_gets_the_same_answer_and_nothing_is_done(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    code, page = sign_up(client, "bot@police.example.org", website="http://spam.example")
    assert code == 200
    assert "Check your email" in page
    assert pending_count(engine) == 0
    assert outbox(settings) == []


def test_an_address_asking_again_and_again_gets_at_most_three_emails_an_hour(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    answers = {sign_up(client, "jo@police.example.org")[0] for _ in range(5)}
    assert answers == {200}
    assert len(outbox(settings)) == 3
    with Session(engine) as session:
        assert (
            session.exec(
                select(func.count())
                .select_from(PendingSignup)
                .where(col(PendingSignup.email) == "jo@police.example.org")
            ).one()
            == 3
        )


def test_one_client_signing_up_many_addresses_is_held_back(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    from newsletter.ratelimit import SIGNUP_CLIENT

    codes = [
        sign_up(client, f"person{n}@police.example.org")[0] for n in range(SIGNUP_CLIENT.max + 1)
    ]
    assert codes[:-1] == [200] * SIGNUP_CLIENT.max
    assert codes[-1] == 429
    assert pending_count(engine) == SIGNUP_CLIENT.max


def test_a_confirmed_sign_up_is_in_the_activity_log(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    from newsletter.models import ActivityEntry

    sign_up(client, "jo@police.example.org")
    client.post(confirmation_link(settings))
    with Session(engine) as session:
        entry = session.exec(select(ActivityEntry)).one()
        jo = session.exec(select(Subscriber)).one()
    assert (entry.actor, entry.action, entry.object) == (
        f"subscriber:{jo.id}",
        "subscriber.signup_confirmed",
        f"subscriber:{jo.id}",
    )
