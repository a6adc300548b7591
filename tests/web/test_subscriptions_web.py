"""/u (RFC 8058 one-click unsubscribe) and /p (preference centre) over real HTTP requests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import Event, EventType, Subscriber, SubscriberStatus
from newsletter.subscribers import erase
from newsletter.web.app import create_app
from newsletter.web.subscriptions import check_form_token, form_token
from tests.conftest import REPO
from tests.factories import make_subscriber

ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def add_subscriber(engine: Engine, **overrides: object) -> Subscriber:
    with Session(engine, expire_on_commit=False) as session:
        subscriber = make_subscriber(session, **overrides)
        session.commit()
        return subscriber


def reload(engine: Engine, subscriber: Subscriber) -> Subscriber:
    with Session(engine) as session:
        row = session.get(Subscriber, subscriber.id)
        assert row is not None
        return row


def unsubscribe_events(engine: Engine) -> list[Event]:
    with Session(engine) as session:
        return list(
            session.exec(select(Event).where(col(Event.type) == EventType.unsubscribe)).all()
        )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_a_get_shows_a_confirm_button_and_never_unsubscribes(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine, email="jo@x.org")
    for _ in range(3):  # a link scanner fetching the link again and again
        response = client.get(f"/u/{jo.token}")
        assert response.status_code == 200
    assert "jo@x.org" in response.text
    assert f'<form method="post" action="http://127.0.0.1:8000/u/{jo.token}">' in response.text
    assert reload(engine, jo).status == SubscriberStatus.active
    assert unsubscribe_events(engine) == []


def test_a_one_click_post_form_urlencoded_unsubscribes_with_200_and_no_redirect(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine, agency="police")
    response = client.post(
        f"/u/{jo.token}",
        content=ONE_CLICK,
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Gmail"},
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "You are unsubscribed" in response.text
    assert reload(engine, jo).status == SubscriberStatus.unsubscribed
    [event] = unsubscribe_events(engine)
    assert (event.agency, event.source, event.method, event.user_agent) == (
        "police",
        "web",
        "POST",
        "Gmail",
    )


def test_a_one_click_post_multipart_unsubscribes(client: TestClient, engine: Engine) -> None:
    jo = add_subscriber(engine)
    response = client.post(f"/u/{jo.token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert response.status_code == 200
    assert reload(engine, jo).status == SubscriberStatus.unsubscribed


def test_a_post_with_an_empty_body_or_repeated_unsubscribes_once(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine)
    assert client.post(f"/u/{jo.token}").status_code == 200
    assert client.post(f"/u/{jo.token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert reload(engine, jo).status == SubscriberStatus.unsubscribed
    assert len(unsubscribe_events(engine)) == 1
    assert "You are not subscribed" in client.get(f"/u/{jo.token}").text


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_mistyped_forged_or_erased_token_gets_the_same_plain_404(
    client: TestClient, engine: Engine, method: str
) -> None:
    jo = add_subscriber(engine, email="jo@x.org")
    gone = add_subscriber(engine, email="gone@x.org")
    gone_token = gone.token
    with Session(engine) as session:
        row = session.get(Subscriber, gone.id)
        assert row is not None
        erase(session, row, now=row.created_at)
        session.commit()
    bodies = set()
    for path in ("u", "p"):
        for token in (jo.token[:-1], jo.token + "A", "x" * 500, gone_token, "%00"):
            response = getattr(client, method)(f"/{path}/{token}")
            assert response.status_code == 404
            bodies.add(response.text)
    assert len(bodies) == 1
    assert "jo@x.org" not in bodies.pop()
    assert reload(engine, jo).status == SubscriberStatus.active
    assert unsubscribe_events(engine) == []


def test_the_preference_form_changes_agency_and_audiences(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine, agency="police", serves_children=True, serves_adults=False)
    page = client.get(f"/p/{jo.token}")
    assert page.status_code == 200
    assert '<option value="police" selected>' in page.text
    response = client.post(
        f"/p/{jo.token}",
        data={"csrf": csrf_of(page.text), "action": "save", "agency": "health", "adults": "yes"},
    )
    assert response.status_code == 200
    assert "Your preferences are saved" in response.text
    row = reload(engine, jo)
    assert (row.agency, row.serves_children, row.serves_adults) == ("health", False, True)


@pytest.mark.parametrize(
    "csrf",
    ["", "garbage", "1782892800.0000000000000000000000000000000", "for-another-subscriber"],
)
def test_a_preference_post_without_a_valid_form_token_changes_nothing(
    client: TestClient, engine: Engine, settings: Settings, clock: FakeClock, csrf: str
) -> None:
    jo = add_subscriber(engine, agency="police")
    if csrf == "for-another-subscriber":
        other = add_subscriber(engine)
        csrf = csrf_of(client.get(f"/p/{other.token}").text)
    for action in ("save", "leave"):
        response = client.post(
            f"/p/{jo.token}",
            data={"csrf": csrf, "action": action, "agency": "health", "adults": "yes"},
        )
        assert response.status_code == 403
        assert "Nothing was changed" in response.text
    row = reload(engine, jo)
    assert (row.agency, row.status) == ("police", SubscriberStatus.active)


def test_an_expired_preference_form_is_refused(
    client: TestClient, engine: Engine, clock: FakeClock
) -> None:
    jo = add_subscriber(engine, agency="police")
    csrf = csrf_of(client.get(f"/p/{jo.token}").text)
    clock.advance(timedelta(hours=13))
    response = client.post(f"/p/{jo.token}", data={"csrf": csrf, "agency": "health", "adults": "1"})
    assert response.status_code == 403
    assert reload(engine, jo).agency == "police"


def test_bad_preferences_are_shown_again_with_the_reason(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine, agency="police")
    csrf = csrf_of(client.get(f"/p/{jo.token}").text)
    no_audience = client.post(f"/p/{jo.token}", data={"csrf": csrf, "agency": "health"})
    assert no_audience.status_code == 400
    assert "Choose at least one audience" in no_audience.text
    bad_agency = client.post(
        f"/p/{jo.token}", data={"csrf": csrf, "agency": "<script>", "children": "yes"}
    )
    assert bad_agency.status_code == 400
    assert "<script>" not in bad_agency.text
    assert reload(engine, jo).agency == "police"


def test_leaving_from_the_preference_centre_and_coming_back(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine)
    csrf = csrf_of(client.get(f"/p/{jo.token}").text)
    left = client.post(f"/p/{jo.token}", data={"csrf": csrf, "action": "leave"})
    assert left.status_code == 200
    assert "Subscribe again" in left.text
    assert reload(engine, jo).status == SubscriberStatus.unsubscribed
    assert len(unsubscribe_events(engine)) == 1
    back = client.post(f"/p/{jo.token}", data={"csrf": csrf_of(left.text), "action": "resubscribe"})
    assert back.status_code == 200
    row = reload(engine, jo)
    assert (row.status, row.consent_source) == (SubscriberStatus.active, "preference centre")


def test_form_tokens_are_bound_to_subscriber_key_and_time() -> None:
    key = b"k" * 32
    token = form_token(key, "sub-a", 1_000_000)
    assert check_form_token(key, "sub-a", token, now=1_000_000 + 3600)
    assert not check_form_token(key, "sub-b", token, now=1_000_000)
    assert not check_form_token(b"j" * 32, "sub-a", token, now=1_000_000)
    assert not check_form_token(key, "sub-a", token, now=1_000_000 + 13 * 3600)
    assert not check_form_token(key, "sub-a", token, now=1_000_000 - 3600)
    assert not check_form_token(key, "sub-a", "1000001" + token[7:], now=1_000_000)
