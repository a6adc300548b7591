"""The click redirect and the open pixel: tokens, open-redirect attempts, modes, machine flags."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.db import make_engine
from newsletter.models import Bulletin, BulletinStatus, Delivery, Event, Link, LinkKind, Subscriber
from newsletter.tokens import agency_token, delivery_token, proof_token
from newsletter.tracking import RULES_VERSION, Recorder, Tracker
from newsletter.web.app import create_app
from newsletter.web.tracking import PIXEL
from tests.conftest import make_settings
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_link,
    make_subscriber,
    make_variant,
)

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36 Edg/126.0"
)


@dataclass
class Sent:
    bulletin: Bulletin
    course: Link
    other_course: Link
    police_only: Link
    honeypot: Link
    feedback_yes: Link
    feedback_no: Link
    subscriber: Subscriber
    delivery: Delivery
    token: str


def sent_bulletin(session: Session, clock: FakeClock, key: bytes) -> Sent:
    bulletin = make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
    variant = make_variant(session, bulletin, agency="health")
    course = make_link(session, bulletin, url="https://learning.example.org/icon?ref=bulletin")
    other = make_link(session, bulletin, url="https://learning.example.org/cse")
    police_only = make_link(session, bulletin, agencies=["police"])
    honeypot = make_link(
        session, bulletin, kind=LinkKind.honeypot, catalogue_id=None, url="https://x.invalid/"
    )
    yes = make_link(session, bulletin, kind=LinkKind.feedback, catalogue_id="yes", url="about:yes")
    no = make_link(session, bulletin, kind=LinkKind.feedback, catalogue_id="no", url="about:no")
    subscriber = make_subscriber(session, agency="health")
    delivery = make_delivery(
        session, bulletin, subscriber, variant, sent_at=clock.now() - timedelta(hours=1)
    )
    session.commit()
    assert delivery.id is not None
    return Sent(
        bulletin, course, other, police_only, honeypot, yes, no, subscriber, delivery,
        delivery_token(key, delivery.id),
    )  # fmt: skip


def events(engine: Engine) -> list[Event]:
    with Session(engine) as s:
        return list(s.exec(select(Event).order_by(col(Event.id))).all())


@pytest.fixture
def sent(session: Session, clock: FakeClock, settings: Settings) -> Sent:
    return sent_bulletin(session, clock, settings.secret)


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as c:
        yield c


def test_a_click_redirects_to_the_registered_course_with_utm_and_is_recorded(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    response = client.get(f"/c/{sent.token}/{sent.course.id}")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        "learning.example.org",
        "/icon",
    )
    query = parse_qs(location.query)
    assert query["ref"] == ["bulletin"]
    assert query["utm_campaign"] == ["bulletin-2026-07"]
    assert query["utm_content"] == ["health"]
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["referrer-policy"] == "no-referrer"  # the token stays with us
    [event] = events(engine)
    assert event.type == "click"
    assert (event.delivery_id, event.link_id, event.agency) == (
        sent.delivery.id,
        sent.course.id,
        "health",
    )
    assert event.bulletin_id == sent.bulletin.id
    assert event.machine is False
    assert event.rules_version == RULES_VERSION
    assert event.method == "GET"
    assert event.user_agent == BROWSER
    assert event.seconds_since_delivery == 3600.0


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # altered MAC
        lambda t: "d999" + t[t.index(".") :],  # another delivery id, same MAC
        lambda t: t.split(".")[0],  # no MAC at all
        lambda t: "d1.AAAAAAAAAAAAAAAA",  # forged
        lambda t: t + "x",
    ],
)
def test_forged_or_altered_tokens_answer_404_and_record_nothing(
    client: TestClient, sent: Sent, engine: Engine, tamper: object
) -> None:
    assert callable(tamper)
    bad = tamper(sent.token)
    assert client.get(f"/c/{bad}/{sent.course.id}").status_code == 404
    assert client.get(f"/o/{bad}.gif").status_code == 404
    assert events(engine) == []


def test_a_token_signed_with_another_key_is_unknown(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    assert sent.delivery.id is not None
    foreign = delivery_token(b"another-key-entirely-0123456789", sent.delivery.id)
    assert client.get(f"/c/{foreign}/{sent.course.id}").status_code == 404
    assert events(engine) == []


@pytest.mark.parametrize(
    "suffix",
    [
        "{link}?url=https://evil.example.com/",
        "{link}?next=https%3A%2F%2Fevil.example.com&redirect=//evil.example.com",
    ],
)
def test_a_target_in_the_query_string_is_ignored(
    client: TestClient, sent: Sent, suffix: str
) -> None:
    response = client.get(f"/c/{sent.token}/" + suffix.format(link=sent.course.id))
    assert response.status_code == 302
    assert response.headers["location"].startswith("https://learning.example.org/icon?")
    assert "evil" not in response.headers["location"]


@pytest.mark.parametrize(
    "link_part",
    [
        "https%3A%2F%2Fevil.example.com",  # an encoded URL instead of a link id
        "https%253A%252F%252Fevil.example.com",  # double-encoded
        "%2F%2Fevil.example.com",
        "1%2F..%2F..%2Fevil",
        "0x1",
        "-1",
        "１",  # a full-width digit: isdigit() but not a link id
        "99999999",
    ],
)
def test_encoded_urls_and_unknown_link_ids_answer_404_and_record_nothing(
    client: TestClient, sent: Sent, engine: Engine, link_part: str
) -> None:
    response = client.get(f"/c/{sent.token}/{link_part}")
    assert response.status_code == 404
    assert "location" not in response.headers
    assert events(engine) == []


def test_a_link_of_another_bulletin_answers_404(
    client: TestClient, sent: Sent, session: Session, engine: Engine
) -> None:
    other = make_bulletin(session, month="2026-08")
    foreign_link = make_link(session, other, url="https://learning.example.org/august")
    session.commit()
    assert client.get(f"/c/{sent.token}/{foreign_link.id}").status_code == 404
    assert events(engine) == []


def test_a_link_not_shown_to_the_readers_agency_answers_404(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    assert client.get(f"/c/{sent.token}/{sent.police_only.id}").status_code == 404
    assert events(engine) == []


def test_a_head_request_is_answered_and_recorded_as_machine_activity(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    response = client.head(f"/c/{sent.token}/{sent.course.id}")
    assert response.status_code == 302
    assert client.head(f"/o/{sent.token}.gif").status_code == 200
    click, open_ = events(engine)
    assert (click.type, click.machine, click.machine_reason, click.method) == (
        "click",
        True,
        "method",
        "HEAD",
    )
    assert (open_.type, open_.machine, open_.machine_reason) == ("open", True, "method")


def test_options_is_answered_and_recorded_as_machine_activity_and_post_is_refused(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    assert client.options(f"/c/{sent.token}/{sent.course.id}").status_code == 204
    assert client.post(f"/c/{sent.token}/{sent.course.id}").status_code == 405
    assert client.post(f"/o/{sent.token}.gif").status_code == 405
    [event] = events(engine)
    assert (event.method, event.machine, event.machine_reason) == ("OPTIONS", True, "method")


def test_malformed_tracking_paths_answer_404(client: TestClient, sent: Sent) -> None:
    for path in (
        f"/c/{sent.token}",
        f"/c/{sent.token}/{sent.course.id}/https://evil.example.com",
        f"/c/{sent.token}/{sent.course.id}/",
        f"/o/{sent.token}",
        f"/o/{sent.token}.png",
        "/o/.gif",
        f"/o/{sent.token}.gif/x",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "location" not in response.headers


def test_the_pixel_is_a_gif_with_no_cache_headers_and_records_an_open(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    response = client.get(f"/o/{sent.token}.gif")
    assert response.status_code == 200
    assert response.content == PIXEL
    assert response.headers["content-type"] == "image/gif"
    assert "no-store" in response.headers["cache-control"]
    assert response.headers["pragma"] == "no-cache"
    [event] = events(engine)
    assert (event.type, event.delivery_id, event.machine) == ("open", sent.delivery.id, False)


def test_an_apple_privacy_proxy_open_is_flagged(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    client.get(f"/o/{sent.token}.gif", headers={"User-Agent": "Mozilla/5.0"})
    [event] = events(engine)
    assert (event.machine, event.machine_reason) == (True, "apple-mpp")


def test_a_scanner_burst_is_flagged_including_its_first_click(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock
) -> None:
    # A gateway fetching every link with a browser-like agent, a few hundred ms apart.
    for link in (sent.course, sent.other_course):
        clock.advance(timedelta(milliseconds=300))
        assert client.get(f"/c/{sent.token}/{link.id}").status_code == 302
    first, second = events(engine)
    assert (second.machine, second.machine_reason) == (True, "burst")
    assert (first.machine, first.machine_reason) == (True, "burst")


def test_a_reader_clicking_two_courses_minutes_apart_is_human(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock
) -> None:
    client.get(f"/c/{sent.token}/{sent.course.id}")
    clock.advance(timedelta(minutes=3))
    client.get(f"/c/{sent.token}/{sent.other_course.id}")
    client.get(f"/c/{sent.token}/{sent.other_course.id}")  # a double click: not a burst
    assert [e.machine for e in events(engine)] == [False, False, False]


def test_known_scanner_agents_and_an_empty_agent_are_flagged(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock
) -> None:
    agents = [
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0 Safari/537.36",
        "python-requests/2.32",
        "Proofpoint URL Defense",
        "",
    ]
    for agent in agents:
        clock.advance(timedelta(minutes=5))
        client.get(f"/c/{sent.token}/{sent.course.id}", headers={"User-Agent": agent})
    reasons = [(e.machine, e.machine_reason) for e in events(engine)]
    assert reasons == [(True, "scanner-agent")] * 3 + [(True, "empty-agent")]


def test_a_click_within_seconds_of_delivery_is_flagged(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock, session: Session
) -> None:
    sent.delivery.sent_at = clock.now() - timedelta(seconds=3)
    session.add(sent.delivery)
    session.commit()
    client.get(f"/c/{sent.token}/{sent.course.id}")
    [event] = events(engine)
    assert (event.machine, event.machine_reason, event.seconds_since_delivery) == (
        True,
        "early-click",
        3.0,
    )


def test_the_honeypot_records_a_machine_click_and_flags_the_deliverys_other_events(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock
) -> None:
    client.get(f"/c/{sent.token}/{sent.course.id}")
    clock.advance(timedelta(seconds=5))
    response = client.get(f"/c/{sent.token}/{sent.honeypot.id}")
    assert response.status_code == 200
    assert response.content == b""
    assert "location" not in response.headers
    clock.advance(timedelta(minutes=1))
    client.get(f"/c/{sent.token}/{sent.other_course.id}")
    before, trap, after = events(engine)
    assert (trap.machine, trap.machine_reason, trap.link_id) == (True, "honeypot", sent.honeypot.id)
    assert (before.machine, before.machine_reason) == (True, "honeypot")
    assert (after.machine, after.machine_reason) == (True, "honeypot-session")


def test_feedback_links_record_yes_and_no_and_thank_the_reader(
    client: TestClient, sent: Sent, engine: Engine, clock: FakeClock
) -> None:
    response = client.get(f"/c/{sent.token}/{sent.feedback_yes.id}")
    assert response.status_code == 200
    assert "Thank you" in response.text
    clock.advance(timedelta(minutes=5))
    assert client.get(f"/c/{sent.token}/{sent.feedback_no.id}").status_code == 200
    assert [e.type for e in events(engine)] == ["feedback_yes", "feedback_no"]


def test_an_agency_token_attributes_the_click_to_the_agency_only(
    client: TestClient, sent: Sent, engine: Engine, settings: Settings
) -> None:
    assert sent.bulletin.id is not None
    token = agency_token(settings.secret, sent.bulletin.id, "police")
    response = client.get(f"/c/{token}/{sent.police_only.id}")
    assert response.status_code == 302
    assert "utm_content=police" in response.headers["location"]
    [event] = events(engine)
    assert (event.delivery_id, event.agency, event.bulletin_id) == (
        None,
        "police",
        sent.bulletin.id,
    )


def test_a_proof_token_follows_links_and_opens_but_records_nothing(
    client: TestClient, sent: Sent, engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    assert sent.bulletin.id is not None
    until = clock.now() + timedelta(days=1)
    token = proof_token(settings.secret, sent.bulletin.id, "police", expires_at=until)
    response = client.get(f"/c/{token}/{sent.police_only.id}")
    assert response.status_code == 302
    assert "utm_content=police" in response.headers["location"]
    assert client.get(f"/o/{token}.gif").status_code == 200
    assert events(engine) == []


def test_an_expired_proof_token_answers_404_and_records_nothing(
    client: TestClient, sent: Sent, engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    assert sent.bulletin.id is not None
    until = clock.now() + timedelta(days=1)
    token = proof_token(settings.secret, sent.bulletin.id, "police", expires_at=until)
    assert client.get(f"/c/{token}/{sent.police_only.id}").status_code == 302

    clock.advance(timedelta(days=1))
    assert client.get(f"/c/{token}/{sent.police_only.id}").status_code == 404
    assert client.get(f"/o/{token}.gif").status_code == 404
    assert events(engine) == []


def test_an_agency_token_for_another_bulletin_answers_404(
    client: TestClient, sent: Sent, engine: Engine, settings: Settings
) -> None:
    assert sent.bulletin.id is not None
    token = agency_token(settings.secret, sent.bulletin.id + 1000, "health")
    assert client.get(f"/c/{token}/{sent.course.id}").status_code == 404
    assert client.get(f"/o/{token}.gif").status_code == 404
    assert events(engine) == []


@pytest.mark.parametrize("mode", ["agency", "off"])
def test_agency_and_off_modes_keep_no_person_on_events(
    tmp_path: Path,
    database_url: str,
    engine: Engine,
    session: Session,
    clock: FakeClock,
    mode: str,
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, tracking=mode)
    sent = sent_bulletin(session, clock, settings.secret)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        assert client.get(f"/c/{sent.token}/{sent.course.id}").status_code == 302
        assert client.get(f"/o/{sent.token}.gif").status_code == 200
    stored = events(engine)
    if mode == "off":
        assert stored == []
    else:
        assert [(e.type, e.delivery_id, e.agency) for e in stored] == [
            ("click", None, "health"),
            ("open", None, "health"),
        ]


def test_the_pixel_is_served_when_the_database_is_down(tmp_path: Path, clock: FakeClock) -> None:
    down = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    settings = make_settings(tmp_path, database_url=down)
    engine = make_engine(down, pool_pre_ping=False)
    app = create_app(settings, engine=engine, clock=clock)
    token = delivery_token(settings.secret, 1)
    with TestClient(app) as client:
        response = client.get(f"/o/{token}.gif")
        assert response.status_code == 200
        assert response.content == PIXEL
        assert client.get(f"/c/{token}/1").status_code == 503
    engine.dispose()


def test_the_pixel_and_the_redirect_are_served_when_only_recording_fails(
    settings: Settings, engine: Engine, clock: FakeClock, sent: Sent
) -> None:
    down = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(settings, engine=engine, clock=clock)
    app.state.tracker = Tracker(settings, engine, recorder=Recorder(down))
    with TestClient(app, follow_redirects=False) as client:
        response = client.get(f"/o/{sent.token}.gif")
        assert response.status_code == 200
        assert response.content == PIXEL
        assert client.get(f"/c/{sent.token}/{sent.course.id}").status_code == 302
    assert events(engine) == []
    down.dispose()


def test_a_drafts_links_are_looked_up_afresh_since_a_rebuild_replaces_them(
    client: TestClient, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = make_bulletin(session, month="2026-09")  # a draft: a test send, a preview
    variant = make_variant(session, bulletin, agency="health")
    link = make_link(session, bulletin, url="https://learning.example.org/old")
    delivery = make_delivery(
        session,
        bulletin,
        make_subscriber(session, agency="health"),
        variant,
        sent_at=clock.now() - timedelta(hours=1),
    )
    session.commit()
    assert delivery.id is not None
    token = delivery_token(settings.secret, delivery.id)
    assert "/old?" in client.get(f"/c/{token}/{link.id}").headers["location"]
    link.url = "https://learning.example.org/new"
    session.add(link)
    session.commit()
    assert "/new?" in client.get(f"/c/{token}/{link.id}").headers["location"]


def test_in_agency_mode_a_burst_is_still_flagged_by_an_in_memory_session(
    tmp_path: Path, database_url: str, engine: Engine, session: Session, clock: FakeClock
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, tracking="agency")
    sent = sent_bulletin(session, clock, settings.secret)
    app = create_app(settings, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        client.get(f"/c/{sent.token}/{sent.course.id}")
        clock.advance(timedelta(milliseconds=500))
        client.get(f"/c/{sent.token}/{sent.other_course.id}")
    first, second = events(engine)
    assert {first.delivery_id, second.delivery_id} == {None}
    assert (second.machine, second.machine_reason) == (True, "burst")
    assert first.machine is False  # no delivery kept, so nothing to flag after the fact


def test_tracking_answers_carry_the_security_headers_of_every_other_answer(
    client: TestClient, sent: Sent
) -> None:
    answers = {
        "redirect": client.get(f"/c/{sent.token}/{sent.course.id}"),
        "pixel": client.get(f"/o/{sent.token}.gif"),
        "thanks page": client.get(f"/c/{sent.token}/{sent.feedback_yes.id}"),
        "unknown click": client.get(f"/c/{sent.token}/999999"),
        "unknown pixel": client.get("/o/not-a-token.gif"),
        "honeypot": client.get(f"/c/{sent.token}/{sent.honeypot.id}"),
        "refused method": client.post(f"/c/{sent.token}/{sent.course.id}"),
    }
    for name, answer in answers.items():
        assert answer.headers["x-content-type-options"] == "nosniff", name
        assert answer.headers["referrer-policy"], name
        assert "strict-transport-security" not in answer.headers, name
    page = answers["thanks page"]
    assert page.headers["content-type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert answers["redirect"].headers["referrer-policy"] == "no-referrer"


def test_over_https_tracking_answers_carry_hsts(
    tmp_path: Path, engine: Engine, database_url: str, clock: FakeClock
) -> None:
    secure = make_settings(
        tmp_path, database_url=database_url, public_base_url="https://bulletin.example.org"
    )
    with Session(engine, expire_on_commit=False) as session:
        sent = sent_bulletin(session, clock, secure.secret)
    app = create_app(secure, engine=engine, clock=clock)
    with TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER}) as client:
        redirect = client.get(f"/c/{sent.token}/{sent.course.id}")
        pixel = client.get(f"/o/{sent.token}.gif")
    assert redirect.status_code == 302
    for answer in (redirect, pixel):
        assert "max-age=" in answer.headers["strict-transport-security"]


def test_a_tracking_request_declaring_a_body_over_the_limit_is_refused_unrecorded(
    client: TestClient, sent: Sent, engine: Engine
) -> None:
    from newsletter.web.bodylimit import DEFAULT_LIMIT

    refused = client.request(
        "GET",
        f"/c/{sent.token}/{sent.course.id}",
        headers={"Content-Length": str(DEFAULT_LIMIT + 1)},
        content=b"x" * (DEFAULT_LIMIT + 1),
    )
    assert refused.status_code == 413
    assert events(engine) == []
