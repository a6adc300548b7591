"""Rate limits on the public forms that change state: the preference centre (per client and
per token) and the RFC 8058 one-click unsubscribe (per token only; a valid token is never
refused)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from newsletter import ratelimit
from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import RateCounter, Subscriber, SubscriberStatus
from newsletter.subscribers import resubscribe
from newsletter.web.app import create_app
from tests.conftest import REPO
from tests.factories import make_subscriber

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def add_subscriber(engine: Engine) -> Subscriber:
    with Session(engine, expire_on_commit=False) as session:
        subscriber = make_subscriber(session)
        session.commit()
        return subscriber


def status_of(engine: Engine, subscriber: Subscriber) -> str:
    with Session(engine) as session:
        row = session.get(Subscriber, subscriber.id)
        assert row is not None
        return row.status


def counters(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(RateCounter)).scalar_one())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_preference_posts_past_the_per_token_limit_answer_429_and_change_nothing(
    client: TestClient, engine: Engine, clock: FakeClock
) -> None:
    jo = add_subscriber(engine)
    csrf = csrf_of(client.get(f"/p/{jo.token}").text)
    form = {"csrf": csrf, "action": "save", "agency": "health", "adults": "yes"}
    for _ in range(ratelimit.PREFERENCES_TOKEN.max):
        assert client.post(f"/p/{jo.token}", data=form).status_code == 200

    refused = client.post(f"/p/{jo.token}", data={**form, "agency": "police"})

    assert refused.status_code == 429
    assert "Too many attempts" in refused.text
    assert "Nothing was changed" in refused.text
    assert int(refused.headers["Retry-After"]) > 0
    with Session(engine) as session:
        row = session.get(Subscriber, jo.id)
        assert row is not None
        assert row.agency == "health"
    # The window passes: the form works again.
    clock.advance(ratelimit.PREFERENCES_TOKEN.window + timedelta(seconds=1))
    csrf = csrf_of(client.get(f"/p/{jo.token}").text)
    assert client.post(f"/p/{jo.token}", data={**form, "csrf": csrf}).status_code == 200


def test_one_client_posting_for_many_people_is_stopped(client: TestClient, engine: Engine) -> None:
    people = [add_subscriber(engine) for _ in range(ratelimit.PREFERENCES_CLIENT.max + 1)]
    answers = []
    for person in people:
        csrf = csrf_of(client.get(f"/p/{person.token}").text)
        form = {"csrf": csrf, "action": "save", "agency": "health", "adults": "yes"}
        answers.append(client.post(f"/p/{person.token}", data=form).status_code)
    assert set(answers[:-1]) == {200}
    assert answers[-1] == 429


def test_one_click_is_never_refused_for_a_valid_token_however_often_it_is_posted(
    client: TestClient, engine: Engine, clock: FakeClock
) -> None:
    jo = add_subscriber(engine)
    limit = ratelimit.UNSUBSCRIBE_TOKEN.max
    answers = [client.post(f"/u/{jo.token}", data=ONE_CLICK).status_code for _ in range(limit)]
    assert set(answers) == {200}
    assert status_of(engine, jo) == SubscriberStatus.unsubscribed
    # Back again through the preference centre, then many more one-click posts (a provider
    # retrying, a forwarded message): every one is answered 200, and the person leaves again.
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Subscriber, jo.id)
        assert row is not None
        assert resubscribe(session, row, now=clock.now(), source="test")
        session.commit()
    more = [client.post(f"/u/{jo.token}", data=ONE_CLICK).status_code for _ in range(5)]
    assert set(more) == {200}
    assert status_of(engine, jo) == SubscriberStatus.unsubscribed


def test_one_click_past_the_limit_counts_and_writes_nothing_more(
    client: TestClient, engine: Engine
) -> None:
    jo = add_subscriber(engine)
    for _ in range(ratelimit.UNSUBSCRIBE_TOKEN.max + 5):
        assert client.post(f"/u/{jo.token}", data=ONE_CLICK).status_code == 200
    with Session(engine) as session:
        count = session.execute(select(col(RateCounter.count))).scalar_one()
    assert count == ratelimit.UNSUBSCRIBE_TOKEN.max


def test_made_up_one_click_tokens_write_nothing(client: TestClient, engine: Engine) -> None:
    for n in range(30):
        assert client.post(f"/u/made-up-{n}", data=ONE_CLICK).status_code == 404
    assert counters(engine) == 0
