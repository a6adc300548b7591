"""Reading RFC 3464 delivery status notifications."""

from __future__ import annotations

from newsletter.tracking.dsn import parse_dsn
from tests.tracking.dsn_samples import OUT_OF_OFFICE, dsn

MID = "<nl.d42.0123456789abcdef@example.org>"


def test_a_hard_bounce_names_the_recipient_status_and_the_message_it_is_about() -> None:
    report = parse_dsn(dsn(recipient="gone@police.example.org", original_message_id=MID))
    assert report is not None
    assert report.original_message_id == MID
    assert report.report_id == "<20260707091500.ABC123@mx.example.net>"
    [recipient] = report.recipients
    assert (recipient.address, recipient.action, recipient.status) == (
        "gone@police.example.org",
        "failed",
        "5.1.1",
    )
    assert recipient.permanent
    assert "User unknown" in recipient.diagnostic
    assert report.arrived is not None
    assert report.arrived.utcoffset() is not None


def test_a_transient_failure_is_a_soft_bounce_and_a_delay_no_bounce_at_all() -> None:
    soft = parse_dsn(dsn(recipient="full@x.org", original_message_id=MID, status="4.2.2"))
    delayed = parse_dsn(
        dsn(recipient="slow@x.org", original_message_id=MID, status="4.4.7", action="delayed")
    )
    assert soft is not None
    assert delayed is not None
    assert (soft.recipients[0].failed, soft.recipients[0].permanent) == (True, False)
    assert (delayed.recipients[0].failed, delayed.recipients[0].permanent) == (False, False)


def test_the_returned_message_itself_also_names_the_original() -> None:
    report = parse_dsn(dsn(recipient="a@x.org", original_message_id=MID, returned="message"))
    assert report is not None
    assert report.original_message_id == MID


def test_mail_that_is_not_a_delivery_report_is_not_read_as_one() -> None:
    assert parse_dsn(OUT_OF_OFFICE) is None
    assert parse_dsn(b"\x00\xff not mail at all") is None
