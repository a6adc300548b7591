"""The SendGrid transport, driving the real ``sendgrid`` client against the local stand-in."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.devtools.sendgrid_standin import Answer, SendGridStandIn, validate
from newsletter.dispatch import send_bulletin
from newsletter.models import BulletinStatus
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.transports import make_transport
from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    Recipient,
    RetryableError,
)
from newsletter.transports.sendgrid import NAME_HTML, SendGridTransport, build_payload
from tests.conftest import make_settings
from tests.factories import make_bulletin, make_subscriber, make_variant

KEY = "SG.test-key"


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    with SendGridStandIn(api_key=KEY) as server:
        yield server


def recipient(n: int, *, name: str = "Ann") -> Recipient:
    return Recipient(
        delivery_id=n,
        email=f"person{n}@example.org",
        name=name,
        values={TOKEN: f"d{n}.mac", SUBSCRIBER: f"sub{n}", NAME: name},
        headers={
            "List-Unsubscribe": f"<mailto:u@example.org?subject=unsubscribe>, <https://x/u/sub{n}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def batch(*recipients: Recipient) -> Batch:
    return Batch(
        subject="July: learning",
        html="<p>Hello __NL_NAME__ <a href='https://x/c/__NL_TOKEN__/1'>go</a></p>",
        text="Hello __NL_NAME__ https://x/c/__NL_TOKEN__/1",
        recipients=list(recipients),
        from_address="Partnership <learning@example.org>",
        bulletin_id=7,
        month="2026-07",
        category="bulletin-2026-07",
    )


def transport(standin: SendGridStandIn, *, timeout: float = 5.0) -> SendGridTransport:
    return SendGridTransport(KEY, host=standin.url, timeout=timeout)


def test_a_batch_is_one_request_with_one_personalization_per_recipient(
    standin: SendGridStandIn,
) -> None:
    results = transport(standin).send(batch(recipient(1), recipient(2, name="Bo & Co, Ltd")))

    assert [r.outcome for r in results] == [Outcome.sent, Outcome.sent]
    assert len(standin.accepted) == 1
    accepted = standin.accepted[0]
    assert {r.provider_message_id for r in results} == {accepted.message_id}
    payload = accepted.payload
    assert payload is not None
    assert [c["type"] for c in payload["content"]] == ["text/plain", "text/html"]
    assert NAME_HTML in payload["content"][1]["value"]
    assert payload["categories"] == ["bulletin-2026-07"]
    assert payload["tracking_settings"]["click_tracking"]["enable"] is False
    assert payload["tracking_settings"]["open_tracking"]["enable"] is False
    assert payload["tracking_settings"]["subscription_tracking"]["enable"] is False
    second = payload["personalizations"][1]
    assert second["to"] == [{"email": "person2@example.org", "name": "Bo & Co  Ltd"}]
    assert second["substitutions"][TOKEN] == "d2.mac"
    assert second["substitutions"][NAME] == "Bo & Co, Ltd"
    assert second["substitutions"][NAME_HTML] == "Bo &amp; Co, Ltd"
    assert second["custom_args"] == {"bulletin_id": "7", "delivery_id": "2"}
    assert second["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_make_transport_builds_the_sendgrid_transport_from_settings(
    plain_settings: Settings, tmp_path, standin: SendGridStandIn
) -> None:
    settings = make_settings(
        tmp_path, sendgrid_api_key=KEY, sendgrid_host=standin.url, sendgrid_timeout=3
    )
    sg = make_transport(settings, "sendgrid")
    assert sg.name == "sendgrid"
    assert sg.max_batch == 1000
    sg.send(batch(recipient(1)))
    assert standin.recipients == 1
    with pytest.raises(ValueError, match="NEWSLETTER_SENDGRID_API_KEY"):
        make_transport(plain_settings, "sendgrid")
    with pytest.raises(ValueError, match="unknown transport 'pigeon'"):
        make_transport(plain_settings, "pigeon")


def test_a_400_raises_a_permanent_error_with_sendgrids_field_errors(
    standin: SendGridStandIn,
) -> None:
    bad = Batch(subject="s", html=None, text="t", recipients=[recipient(1)], from_address="nobody")

    with pytest.raises(PermanentError) as caught:
        transport(standin).send(bad)

    assert "from.email: Does not contain a valid address." in (caught.value.detail or "")
    assert standin.accepted == []


def test_a_wrong_key_raises_an_authentication_error(standin: SendGridStandIn) -> None:
    with pytest.raises(AuthenticationError, match="401"):
        SendGridTransport("SG.wrong", host=standin.url, timeout=5).send(batch(recipient(1)))


def test_a_429_raises_rate_limited_with_the_reset_time(standin: SendGridStandIn) -> None:
    standin.script(Answer.rate_limited(reset_in=30))

    with pytest.raises(RateLimited) as caught:
        transport(standin).send(batch(recipient(1)))

    assert caught.value.reset_at is not None
    assert standin.accepted == []


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_is_retryable(standin: SendGridStandIn, status: int) -> None:
    standin.script(Answer.server_error(status))
    with pytest.raises(RetryableError, match=str(status)):
        transport(standin).send(batch(recipient(1)))


def test_a_413_is_permanent(standin: SendGridStandIn) -> None:
    standin.script(Answer(413, body={"errors": [{"message": "content too large"}]}))
    with pytest.raises(PermanentError, match="413"):
        transport(standin).send(batch(recipient(1)))


def test_a_timeout_after_sending_is_an_unknown_outcome_and_the_mail_was_accepted(
    standin: SendGridStandIn,
) -> None:
    standin.script(Answer.slow(1.0))

    with pytest.raises(OutcomeUnknown):
        transport(standin, timeout=0.2).send(batch(recipient(1)))

    assert standin.recipients == 1  # SendGrid had it: resending would duplicate


def test_a_dropped_connection_after_sending_is_an_unknown_outcome(
    standin: SendGridStandIn,
) -> None:
    standin.script(Answer.dropped(accept=True))
    with pytest.raises(OutcomeUnknown):
        transport(standin).send(batch(recipient(1)))


def test_a_refused_connection_is_retryable() -> None:
    with SendGridStandIn() as gone:
        url = gone.url
    with pytest.raises(RetryableError, match="unreachable"):
        SendGridTransport(KEY, host=url, timeout=2).send(batch(recipient(1)))


def test_the_standin_refuses_what_sendgrid_refuses() -> None:
    good = build_payload(batch(recipient(1), recipient(2)))
    assert validate(good) == []

    def fields(payload: dict[str, Any]) -> set[str | None]:
        return {e["field"] for e in validate(payload)}

    assert fields({**good, "content": list(reversed(good["content"]))}) == {"content"}
    dup = {**good, "personalizations": [good["personalizations"][0]] * 2}
    assert fields(dup) == {"personalizations.1.to"}
    many = {
        **good,
        "personalizations": [{"to": [{"email": f"p{i}@example.org"}]} for i in range(1001)],
    }
    assert "personalizations" in fields(many)
    numeric = {
        **good,
        "personalizations": [{**good["personalizations"][0], "custom_args": {"delivery_id": 1}}],
    }
    assert fields(numeric) == {"personalizations.0.custom_args.delivery_id"}
    reserved = {**good, "headers": {"Subject": "x"}}
    assert fields(reserved) == {"headers.Subject"}
    no_subject = {k: v for k, v in good.items() if k != "subject"}
    assert fields(no_subject) == {"subject"}
    no_from = {k: v for k, v in good.items() if k != "from"}
    assert fields(no_from) == {"from.email"}
    cats = {**good, "categories": [f"c{i}" for i in range(11)]}
    assert fields(cats) == {"categories"}
    assert fields({**good, "categories": ["a", "a"]}) == {"categories"}
    assert fields({**good, "personalizations": []}) == {"personalizations"}


# --- through dispatch --------------------------------------------------------------------


def test_a_send_survives_429_then_500_with_no_duplicates_and_no_losses(
    engine: Engine,
    session: Session,
    tmp_path,
    database_url: str,
    clock: FakeClock,
    standin: SendGridStandIn,
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        sendgrid_api_key=KEY,
        sendgrid_host=standin.url,
        batch_size=3,
    )
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    for agency in ("health", "police"):
        make_variant(session, bulletin, agency=agency, html="<p>__NL_NAME__ __NL_TOKEN__</p>")
        for _ in range(5):
            make_subscriber(session, agency=agency)
    session.commit()
    standin.script(Answer.rate_limited(reset_in=2), Answer.server_error(500))
    standin.script(Answer(), Answer.server_error(503))  # a later batch fails once too
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    summary = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=make_transport(settings, "sendgrid"),
        clock=clock,
        sleep=sleep,
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 10
    delivered = Counter(
        p["custom_args"]["delivery_id"]
        for a in standin.accepted
        if a.payload
        for p in a.payload["personalizations"]
    )
    assert len(delivered) == 10
    assert set(delivered.values()) == {1}
    assert len(waits) == 3
    assert standin.requests == len(standin.accepted) + 3


def test_a_timed_out_batch_is_left_unknown_and_only_retry_unknown_resends_it(
    engine: Engine,
    session: Session,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    standin: SendGridStandIn,
) -> None:
    settings = make_settings(
        tmp_path,
        database_url=database_url,
        sendgrid_api_key=KEY,
        sendgrid_host=standin.url,
        sendgrid_timeout=0.3,
        batch_size=2,
    )
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    make_variant(session, bulletin, agency="health", html="<p>__NL_NAME__</p>")
    for _ in range(4):
        make_subscriber(session, agency="health")
    session.commit()
    standin.script(Answer.slow(1.0))  # the first batch reaches SendGrid, the answer is late

    first = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=make_transport(settings, "sendgrid"),
        clock=clock,
    )

    assert first.totals.unknown == 2
    assert first.totals.sent == 2
    assert standin.recipients == 4  # SendGrid has all four; the ledger does not resend two

    again = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=make_transport(settings, "sendgrid"),
        clock=clock,
    )
    assert again.sent_now == 0
    assert standin.recipients == 4

    retried = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=make_transport(settings, "sendgrid"),
        clock=clock,
        retry_unknown=True,
    )
    assert retried.totals.sent == 4
    assert standin.recipients == 6  # the operator chose to resend: those two may get two


def test_a_prepared_batch_is_sent_as_prepared_and_a_changed_one_is_built_afresh(
    standin: SendGridStandIn,
) -> None:
    sender = transport(standin)
    people = [recipient(1), recipient(2), recipient(3)]
    whole = batch(*people)
    sender.prepare(whole)
    sender.prepare(batch(recipient(9)))  # the next page, read while the first is in flight
    # deliver() hands over a copy of the batch; the same recipients still match the preparation.
    sender.send(dataclasses.replace(whole, recipients=list(people)))
    # Someone left after the page was read: the batch sent without them is built again.
    sender.prepare(whole)
    sender.send(dataclasses.replace(whole, recipients=[people[0], people[2]]))

    first, second = (a.payload for a in standin.accepted)
    assert first == build_payload(whole)
    assert second is not None
    assert [p["custom_args"]["delivery_id"] for p in second["personalizations"]] == ["1", "3"]
