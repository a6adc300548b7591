"""Bounces over SMTP: delivery reports read from a real IMAP server (Debian's Dovecot)."""

from __future__ import annotations

import imaplib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.config import Settings
from newsletter.models import (
    ActivityEntry,
    Delivery,
    Event,
    EventSource,
    EventType,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from newsletter.schedule.runner import SchedulerService
from newsletter.tracking.bounce_mailbox import MailboxError, read_bounces
from tests.conftest import ImapServer, make_settings
from tests.factories import make_bulletin, make_delivery, make_subscriber, make_variant
from tests.tracking.dsn_samples import OUT_OF_OFFICE, dsn

NOW = datetime(2026, 7, 7, 10, 30, tzinfo=UTC)


def deliver_to_mailbox(server: ImapServer, *messages: bytes) -> None:
    """Put messages in the bounce mailbox as a mail server would (IMAP APPEND)."""
    conn = imaplib.IMAP4(server.host, server.port)
    try:
        conn.login(server.username, server.password)
        for message in messages:
            status, _ = conn.append("INBOX", None, None, message)
            assert status == "OK"
    finally:
        conn.logout()


def unseen(server: ImapServer) -> int:
    conn = imaplib.IMAP4(server.host, server.port)
    try:
        conn.login(server.username, server.password)
        conn.select("INBOX")
        _, data = conn.uid("SEARCH", "UNSEEN")
        return len((data[0] or b"").split())
    finally:
        conn.logout()


def sent_over_smtp(session: Session, email: str) -> tuple[Subscriber, Delivery]:
    bulletin = make_bulletin(session, month="2026-07")
    variant = make_variant(session, bulletin, agency="police")
    subscriber = make_subscriber(session, email=email, agency="police")
    delivery = make_delivery(session, bulletin, subscriber, variant)
    # The SMTP transport records the Message-ID it wrote as the provider message id.
    delivery.provider_message_id = f"<nl.d{delivery.id}.5f3a9c0d1e2b4a68@example.org>"
    session.add(delivery)
    session.commit()
    return subscriber, delivery


def test_a_hard_bounce_in_the_mailbox_suppresses_the_address_as_the_webhook_does(
    session: Session, engine: Engine, imap_server: ImapServer
) -> None:
    subscriber, delivery = sent_over_smtp(session, "gone@police.example.org")
    deliver_to_mailbox(
        imap_server,
        dsn(
            recipient="gone@police.example.org",
            original_message_id=delivery.provider_message_id or "",
        ),
        OUT_OF_OFFICE,
    )
    result = read_bounces(engine, imap_server.url, now=NOW, mode="individual")
    assert (result.messages, result.reports, result.hard_bounces, result.not_reports) == (
        2,
        1,
        1,
        1,
    )
    assert (result.stored, result.suppressed) == (1, 1)
    session.expire_all()
    session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.bounced
    assert session.get(Suppression, subscriber.address_hash or "") is not None
    event = session.exec(select(Event).where(col(Event.delivery_id) == delivery.id)).one()
    assert (event.type, event.source) == (EventType.bounce, EventSource.mailbox)
    logged = session.exec(select(ActivityEntry.actor, ActivityEntry.action)).all()
    assert logged == [("scheduler", "subscriber.bounced")]
    session.rollback()
    assert unseen(imap_server) == 0

    again = read_bounces(engine, imap_server.url, now=NOW, mode="individual")
    assert again.messages == 0


def test_a_report_read_twice_is_stored_once(
    session: Session, engine: Engine, imap_server: ImapServer
) -> None:
    _subscriber, delivery = sent_over_smtp(session, "gone@police.example.org")
    report = dsn(
        recipient="gone@police.example.org", original_message_id=delivery.provider_message_id or ""
    )
    deliver_to_mailbox(imap_server, report, report)  # e.g. read, then put back by a person
    result = read_bounces(engine, imap_server.url, now=NOW, mode="individual")
    assert (result.reports, result.stored) == (2, 1)


def test_a_soft_bounce_is_recorded_and_suppresses_nobody(
    session: Session, engine: Engine, imap_server: ImapServer
) -> None:
    subscriber, delivery = sent_over_smtp(session, "full@police.example.org")
    deliver_to_mailbox(
        imap_server,
        dsn(
            recipient="full@police.example.org",
            original_message_id=delivery.provider_message_id or "",
            status="4.2.2",
        ),
    )
    result = read_bounces(engine, imap_server.url, now=NOW, mode="individual")
    assert (result.soft_bounces, result.stored, result.suppressed) == (1, 1, 0)
    session.expire_all()
    session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.active
    assert session.exec(select(Suppression)).all() == []


def test_a_forged_report_about_a_message_we_never_sent_suppresses_nobody(
    session: Session, engine: Engine, imap_server: ImapServer
) -> None:
    subscriber, delivery = sent_over_smtp(session, "jo@police.example.org")
    deliver_to_mailbox(
        imap_server,
        dsn(recipient="jo@police.example.org", original_message_id=f"<nl.d{delivery.id}.0@x>"),
    )
    result = read_bounces(engine, imap_server.url, now=NOW, mode="individual")
    assert (result.reports, result.unmatched, result.stored) == (1, 1, 0)
    session.expire_all()
    session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.active


def test_a_wrong_password_is_a_clear_error_and_reads_nothing(
    engine: Engine, imap_server: ImapServer
) -> None:
    url = imap_server.url.replace(imap_server.password, "wrong-password")
    with pytest.raises(MailboxError, match=r"IMAP login to 127\.0\.0\.1 refused"):
        read_bounces(engine, url, now=NOW, mode="individual")


def test_the_scheduler_reads_the_bounce_mailbox_when_one_is_set(
    session: Session,
    engine: Engine,
    imap_server: ImapServer,
    settings: Settings,
    tmp_path: Path,
) -> None:
    subscriber, delivery = sent_over_smtp(session, "gone@police.example.org")
    deliver_to_mailbox(
        imap_server,
        dsn(
            recipient="gone@police.example.org",
            original_message_id=delivery.provider_message_id or "",
        ),
    )
    with_mailbox = make_settings(
        tmp_path,
        database_url=settings.resolved_database_url,
        transport="smtp",
        bounce_mailbox=imap_server.url,
    )
    service = SchedulerService(with_mailbox, engine=engine, name="bounces")
    assert service.leadership.try_acquire()
    try:
        result = service.read_bounces()
    finally:
        service.leadership.release()
    assert result is not None
    assert result.suppressed == 1
    session.expire_all()
    session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.bounced
