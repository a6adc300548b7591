"""Delivery status notifications as mail servers write them (Postfix's shape), for the tests."""

from __future__ import annotations


def dsn(
    *,
    recipient: str,
    original_message_id: str,
    status: str = "5.1.1",
    action: str = "failed",
    report_id: str = "<20260707091500.ABC123@mx.example.net>",
    returned: str = "headers",
) -> bytes:
    """A multipart/report DSN about one recipient; ``returned``: ``headers`` or ``message``."""
    diagnostic = (
        f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown"
        if status.startswith("5")
        else f"smtp; 452 4.2.2 <{recipient}>: Mailbox full"
    )
    original = (
        f"Message-ID: {original_message_id}\r\n"
        "From: Safeguarding Partnership Learning <learning@example.org>\r\n"
        f"To: {recipient}\r\n"
        "Subject: July: Non-Accidental Injuries\r\n"
    )
    if returned == "headers":
        third = f"Content-Type: text/rfc822-headers\r\n\r\n{original}"
    else:
        third = f"Content-Type: message/rfc822\r\n\r\n{original}\r\nThe bulletin.\r\n"
    return (
        f"Return-Path: <>\r\n"
        f"Date: Tue, 07 Jul 2026 10:15:00 +0100\r\n"
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"To: bounces@example.org\r\n"
        f"Message-ID: {report_id}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n"
        "--B1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "\r\n"
        "--B1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n"
        "Arrival-Date: Tue, 07 Jul 2026 10:14:58 +0100\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mail.example.net\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n"
        "\r\n"
        "--B1\r\n"
        f"{third}\r\n"
        "--B1--\r\n"
    ).encode()


OUT_OF_OFFICE = (
    b"From: Jo <jo@police.example.org>\r\nTo: bounces@example.org\r\n"
    b"Subject: Automatic reply: July bulletin\r\nMessage-ID: <ooo1@police.example.org>\r\n"
    b"\r\nI am out of the office until Monday.\r\n"
)
