"""Sending a bulletin through the ledger, with the in-memory transport."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.dispatch import DispatchError, RetryPolicy, dry_run, ledger, send_bulletin
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    SubscriberStatus,
    Suppression,
    utcnow,
)
from newsletter.tokens import DeliveryRef, parse_token
from newsletter.transports.base import (
    AuthenticationError,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    RetryableError,
)
from newsletter.transports.memory import MemoryTransport
from tests.factories import make_bulletin, make_subscriber, make_variant

HTML = (
    '<html><body><p>Hello __NL_NAME__</p><a href="http://127.0.0.1:8000/c/__NL_TOKEN__/1">x</a>'
    '<a href="http://127.0.0.1:8000/u/__NL_SUBSCRIBER__">unsubscribe</a></body></html>'
)


def approved_bulletin(session: Session, *, agencies: dict[str, int]) -> Bulletin:
    bulletin = make_bulletin(session, status=BulletinStatus.approved)
    for agency, n in agencies.items():
        make_variant(session, bulletin, agency=agency, html=HTML, text="Hi __NL_NAME__")
        for _ in range(n):
            make_subscriber(session, agency=agency)
    session.commit()
    return bulletin


class Sleeper:
    """An injected sleep that moves the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def statuses(session: Session, bulletin: Bulletin) -> Counter[str]:
    session.expire_all()
    rows = session.execute(
        select(col(Delivery.status), func.count())
        .where(col(Delivery.bulletin_id) == bulletin.id)
        .group_by(col(Delivery.status))
    )
    counts = Counter({str(s): n for s, n in rows})
    session.commit()  # SQLite: a read transaction (BEGIN IMMEDIATE) would block the sender
    return counts


def test_a_send_reaches_every_subscriber_once_with_their_own_values_and_headers(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3, "police": 2})
    transport = MemoryTransport(max_batch=2)

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 5
    assert summary.by_agency["health"].sent == 3
    assert summary.by_agency["police"].sent == 2
    assert summary.batches == 3  # 2 + 1 health, 2 police: one variant per batch
    assert sorted(Counter(m.to for m in transport.sent).values()) == [1] * 5
    message = transport.sent[0]
    delivery = session.scalars(
        select(Delivery).where(col(Delivery.id) == message.delivery_id)
    ).one()
    assert delivery.status == DeliveryStatus.sent
    assert delivery.batch == 1
    assert delivery.attempts == 1
    assert delivery.provider_message_id == "mem-1"
    token = message.html.split("/c/")[1].split("/")[0] if message.html else ""
    assert parse_token(settings.secret, token) == DeliveryRef(delivery.id or 0)
    assert "__NL_" not in (message.html or "") + message.text
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, https = message.headers["List-Unsubscribe"].split(", ")
    assert mailto == "<mailto:learning@example.org?subject=unsubscribe>"
    assert https.startswith("<http://127.0.0.1:8000/u/")
    assert https.endswith(">")
    session.refresh(bulletin)
    assert bulletin.status == BulletinStatus.sent
    assert bulletin.sent_at is not None


def test_sending_the_same_month_again_sends_nothing_new(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3})
    transport = MemoryTransport()
    send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)
    make_subscriber(session, agency="health")  # joins after the send
    session.commit()

    again = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert len(transport.sent) == 3
    assert again.sent_now == 0
    assert again.totals.sent == 3


def test_a_second_snapshot_adds_no_rows(session: Session, clock: FakeClock) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3, "police": 1})
    make_subscriber(session, agency="housing")  # no variant for housing

    assert ledger.snapshot(session, bulletin, now=clock.now()) == 4
    assert ledger.snapshot(session, bulletin, now=clock.now()) == 0
    assert ledger.unmatched_count(session, bulletin) == 1
    assert statuses(session, bulletin) == Counter({"pending": 4})


def test_someone_who_unsubscribes_after_the_snapshot_is_skipped(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 4})
    with Session(engine) as other:
        ledger.snapshot(other, bulletin, now=clock.now())
        other.commit()
    people = list(session.scalars(select(Delivery).order_by(col(Delivery.id))))
    from newsletter.models import Subscriber

    leaver = session.get(Subscriber, people[1].subscriber_id)
    suppressed = session.get(Subscriber, people[2].subscriber_id)
    assert leaver is not None
    assert suppressed is not None
    leaver.status = SubscriberStatus.unsubscribed
    session.add(Suppression(address_hash=suppressed.address_hash or "", reason="bounce"))
    session.commit()
    transport = MemoryTransport()

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.by_agency["health"].sent == 2
    assert summary.by_agency["health"].skipped == 2
    assert {m.to for m in transport.sent} == {
        s.email
        for s in session.scalars(select(Subscriber))
        if s.id in {people[0].subscriber_id, people[3].subscriber_id}
    }


def test_a_rate_limit_waits_until_the_reset_time_then_sends(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 2})
    transport = MemoryTransport()
    transport.fail_next(RateLimited("429", reset_at=clock.now() + timedelta(seconds=42)))
    sleeper = Sleeper(clock)

    summary = send_bulletin(
        engine, settings, bulletin.month, transport=transport, clock=clock, sleep=sleeper
    )

    assert sleeper.waits == [42.0]
    assert summary.totals.sent == 2
    assert len(transport.sent) == 2


def test_retryable_errors_back_off_exponentially_and_then_succeed(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 2})
    transport = MemoryTransport()
    transport.fail_next(RetryableError("500"), RetryableError("503"), RetryableError("502"))
    sleeper = Sleeper(clock)

    summary = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=transport,
        clock=clock,
        sleep=sleeper,
        policy=RetryPolicy(max_attempts=5, base=2.0),
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 2
    assert len(sleeper.waits) == 3
    for attempt, wait in enumerate(sleeper.waits, start=1):
        ceiling = 2.0 * 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_retryable_errors_past_the_attempt_limit_stop_the_send_and_a_rerun_resumes(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3})
    transport = MemoryTransport(max_batch=1)
    transport.fail_next(*[RetryableError("connection refused")] * 3)
    policy = RetryPolicy(max_attempts=3, base=0.01)

    first = send_bulletin(
        engine,
        settings,
        bulletin.month,
        transport=transport,
        clock=clock,
        sleep=Sleeper(clock),
        policy=policy,
    )

    assert first.status is BulletinStatus.failed
    assert first.stopped is not None
    assert "kept failing after 3 attempts" in first.stopped
    assert first.totals.pending == 3
    assert transport.sent == []

    second = send_bulletin(
        engine, settings, bulletin.month, transport=transport, clock=clock, sleep=Sleeper(clock)
    )

    assert second.status is BulletinStatus.sent
    assert second.totals.sent == 3
    assert sorted(Counter(m.to for m in transport.sent).values()) == [1, 1, 1]
    errors = set(session.scalars(select(col(Delivery.error))))
    assert errors == {None}  # the first run's error no longer applies


def test_a_permanent_error_fails_that_batch_only_with_the_error_recorded(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 4})
    transport = MemoryTransport(max_batch=2)
    transport.fail_next(PermanentError("400 Bad Request", detail="from.email: invalid"))

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.status is BulletinStatus.sent
    assert summary.totals.failed == 2
    assert summary.totals.sent == 2
    assert summary.errors == ["batch 1 (health): 400 Bad Request: from.email: invalid"]
    errors = set(
        session.scalars(
            select(col(Delivery.error)).where(col(Delivery.status) == DeliveryStatus.failed)
        )
    )
    assert errors == {"400 Bad Request: from.email: invalid"}


def test_bad_credentials_stop_the_whole_send_with_nothing_marked_sent(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 2, "police": 2})
    transport = MemoryTransport()
    transport.fail_next(AuthenticationError("401 Unauthorized", detail="bad API key"))

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.status is BulletinStatus.failed
    assert summary.stopped is not None
    assert "refused our credentials: 401 Unauthorized: bad API key" in summary.stopped
    assert statuses(session, bulletin) == Counter({"pending": 4})
    assert transport.sent == []


def test_an_unknown_outcome_is_never_resent_until_an_operator_says_so(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3})
    transport = MemoryTransport(max_batch=2)
    transport.fail_next(OutcomeUnknown("timed out after sending"))

    first = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)
    again = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert first.totals.unknown == 2
    assert first.totals.sent == 1
    assert again.sent_now == 0
    assert len(transport.sent) == 1
    assert dry_run(session, settings, bulletin.month).unknown == 2
    session.commit()

    retried = send_bulletin(
        engine, settings, bulletin.month, transport=transport, clock=clock, retry_unknown=True
    )

    assert retried.status is BulletinStatus.sent
    assert retried.totals.sent == 3
    assert retried.totals.unknown == 0
    assert len(transport.sent) == 3


def test_too_many_failed_batches_pause_the_send(
    engine: Engine, session: Session, tmp_path, database_url: str, clock: FakeClock
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url=database_url, send_error_threshold=2)
    bulletin = approved_bulletin(session, agencies={"health": 5})
    transport = MemoryTransport(max_batch=1)
    transport.fail_next(PermanentError("400"), OutcomeUnknown("timeout"))

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.status is BulletinStatus.failed
    assert summary.stopped is not None
    assert "paused after 2 failed batches" in summary.stopped
    assert statuses(session, bulletin) == Counter({"failed": 1, "unknown": 1, "pending": 3})


def test_rows_left_sending_by_a_crashed_run_become_unknown_on_the_next_start(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3})
    with Session(engine) as other:
        from newsletter.lifecycle import transition

        b = other.get(Bulletin, bulletin.id)
        assert b is not None
        transition(other, b, BulletinStatus.sending, now=utcnow())
        ledger.snapshot(other, b, now=clock.now())
        first = other.scalars(select(col(Delivery.id)).order_by(col(Delivery.id))).first()
        assert first is not None
        ledger.set_status(other, [first], DeliveryStatus.sending, only_if=DeliveryStatus.pending)
        other.commit()
    transport = MemoryTransport()

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.interrupted == 1
    assert summary.totals.unknown == 1
    assert summary.totals.sent == 2
    assert len(transport.sent) == 2


def test_a_draft_bulletin_cannot_be_sent_and_nothing_changes(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = make_bulletin(session, status=BulletinStatus.draft)
    make_variant(session, bulletin)
    make_subscriber(session)
    session.commit()

    with pytest.raises(DispatchError, match="only an approved bulletin"):
        send_bulletin(engine, settings, bulletin.month, transport=MemoryTransport(), clock=clock)
    with pytest.raises(DispatchError, match="no bulletin for 1999-01"):
        send_bulletin(engine, settings, "1999-01", transport=MemoryTransport(), clock=clock)
    assert statuses(session, bulletin) == Counter()


def test_agency_tracking_puts_the_agency_token_in_every_link(
    engine: Engine, session: Session, tmp_path, database_url: str, clock: FakeClock
) -> None:
    from newsletter.tokens import AgencyRef
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url=database_url, tracking="agency")
    bulletin = approved_bulletin(session, agencies={"police": 1})
    transport = MemoryTransport()

    send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    html = transport.sent[0].html or ""
    token = html.split("/c/")[1].split("/")[0]
    assert parse_token(settings.secret, token) == AgencyRef(bulletin.id or 0, "police")


def test_a_dry_run_counts_by_agency_and_variant_and_writes_nothing(
    session: Session, settings: Settings
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 3, "police": 1})
    make_subscriber(session, agency="housing")
    session.commit()

    result = dry_run(session, settings, bulletin.month)

    by_agency = {r.agency: r for r in result.rows}
    assert by_agency["health"].audience == 3
    assert by_agency["health"].variant_id is not None
    assert by_agency["housing"].audience == 1
    assert by_agency["housing"].variant_id is None
    assert result.would_send == 4
    assert statuses(session, bulletin) == Counter()


def test_test_copies_go_once_per_variant_marked_test_and_leave_no_ledger_rows(
    session: Session, settings: Settings
) -> None:
    from newsletter.dispatch import send_test_copies

    bulletin = approved_bulletin(session, agencies={"health": 2, "police": 1})
    transport = MemoryTransport()

    now = utcnow()
    results = send_test_copies(
        session, settings, bulletin.month, to="Editor@Example.org", transport=transport, now=now
    )

    assert [copy.agency for copy in results] == ["health", "police"]
    names = [copy.agency_name for copy in results]
    assert [m.subject for m in transport.sent] == [f"[TEST] {n}: {bulletin.subject}" for n in names]
    assert {m.to for m in transport.sent} == {"Editor@example.org"}
    assert all(m.delivery_id is None for m in transport.sent)
    assert "Test Recipient" in (transport.sent[0].html or "")
    assert statuses(session, bulletin) == Counter()
    with pytest.raises(DispatchError, match="not an email address"):
        send_test_copies(
            session, settings, bulletin.month, to="nobody", transport=transport, now=now
        )


def test_placeholder_values_are_filled_for_each_recipient(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={})
    make_variant(session, bulletin, agency="health", html=HTML, text="Hi __NL_NAME__")
    person = make_subscriber(session, agency="health", name="Ann & <Bo>")
    session.commit()
    transport = MemoryTransport()

    send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    message = transport.sent[0]
    assert "Hello Ann &amp; &lt;Bo&gt;" in (message.html or "")
    assert message.text == "Hi Ann & <Bo>"
    assert f"/u/{person.token}" in (message.html or "")


def test_someone_who_leaves_while_the_previous_batch_is_in_flight_is_skipped(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    from newsletter.models import Subscriber
    from newsletter.transports.base import Batch, RecipientResult

    bulletin = approved_bulletin(session, agencies={"health": 4})
    leaver = list(session.scalars(select(Subscriber).order_by(col(Subscriber.id))))[2]
    session.commit()  # SQLite: end the read transaction (BEGIN IMMEDIATE holds the write lock)

    class LeavesDuringFirstBatch(MemoryTransport):
        def send(self, batch: Batch) -> list[RecipientResult]:
            if not self.sent:  # the next page may already have been read by now
                with Session(engine) as other:
                    person = other.get(Subscriber, leaver.id)
                    assert person is not None
                    person.status = SubscriberStatus.unsubscribed
                    other.commit()
            return super().send(batch)

    transport = LeavesDuringFirstBatch(max_batch=2)

    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.by_agency["health"].sent == 3
    assert summary.by_agency["health"].skipped == 1
    assert leaver.email not in {m.to for m in transport.sent}


def test_a_page_read_before_someone_left_skips_them_when_it_is_claimed(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    from newsletter.dispatch.batches import _claim, _Pages, transaction
    from newsletter.models import Subscriber, Variant

    bulletin = approved_bulletin(session, agencies={"health": 3})
    ledger.snapshot(session, bulletin, now=clock.now())
    variants = list(session.scalars(select(Variant)))
    session.commit()
    with engine.connect() as conn:
        page = _Pages(conn, settings, bulletin=bulletin, variants=variants, size=10).next()
        assert page is not None
        assert len(page.batch.recipients) == 3
        leaver = session.scalars(select(Subscriber).order_by(col(Subscriber.id))).all()[1]
        leaver.status = SubscriberStatus.unsubscribed
        session.commit()
        with transaction(conn) as tx:
            left = _claim(tx, page, bulletin_id=bulletin.id or 0, batch_no=1)

    assert left == [page.batch.recipients[1].delivery_id]
    assert statuses(session, bulletin) == Counter({"sending": 2, "skipped": 1})


def test_a_second_sender_of_the_same_bulletin_is_refused_and_changes_nothing(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    from newsletter.dispatch.lock import send_lock

    bulletin = approved_bulletin(session, agencies={"health": 2})
    with (
        engine.connect() as other,
        send_lock(other, bulletin_id=bulletin.id or 0, month="x"),
        pytest.raises(DispatchError, match="another process is sending"),
    ):
        send_bulletin(engine, settings, bulletin.month, transport=MemoryTransport(), clock=clock)
    assert statuses(session, bulletin) == Counter()

    summary = send_bulletin(
        engine, settings, bulletin.month, transport=MemoryTransport(), clock=clock
    )
    assert summary.totals.sent == 2


def test_a_bulletin_that_failed_before_its_snapshot_is_snapshotted_on_restart(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    bulletin = approved_bulletin(session, agencies={"health": 2})
    bulletin.status = BulletinStatus.failed
    session.commit()

    summary = send_bulletin(
        engine, settings, bulletin.month, transport=MemoryTransport(), clock=clock
    )

    assert summary.status is BulletinStatus.sent
    assert summary.totals.sent == 2


def test_ctrl_c_during_a_send_stops_it_after_recording_the_batch_in_flight(
    engine: Engine, session: Session, settings: Settings, clock: FakeClock
) -> None:
    import signal

    from newsletter.transports.base import Batch, RecipientResult

    bulletin = approved_bulletin(session, agencies={"health": 4})

    class CtrlC(MemoryTransport):
        def send(self, batch: Batch) -> list[RecipientResult]:
            if not self.sent:
                signal.raise_signal(signal.SIGINT)  # the operator presses Ctrl-C now
            return super().send(batch)

    transport = CtrlC(max_batch=2)
    summary = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)

    assert summary.stopped is not None
    assert summary.stopped.startswith("interrupted by the operator")
    assert summary.status is BulletinStatus.failed
    assert len(transport.sent) == 2
    assert statuses(session, bulletin) == Counter({"sent": 2, "pending": 2})
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    resumed = send_bulletin(engine, settings, bulletin.month, transport=transport, clock=clock)
    assert resumed.totals.sent == 4
