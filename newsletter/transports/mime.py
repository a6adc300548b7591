"""One recipient's RFC 5322 message, as bytes: placeholders filled, text before HTML.

Used by the local transports (outbox, SMTP); SendGrid builds its own MIME from the JSON.

Written by hand rather than with :class:`email.message.EmailMessage`: the modern email API
parses and re-folds every header and costs several milliseconds a message, which dominated a
20,000-recipient send. The structure here is fixed and simple (``multipart/alternative`` of
UTF-8 text and HTML, quoted-printable so the .eml stays readable), the C ``binascii``
encoder does the bodies, and non-ASCII header text is RFC 2047-encoded by :mod:`email.header`.
A test parses the result back with the standard library.
"""

from __future__ import annotations

import binascii
import functools
import secrets
from email.header import Header
from email.utils import formataddr, formatdate, make_msgid, parseaddr

from newsletter.personalise import html_values, personalise
from newsletter.transports.base import Batch, Recipient

# Headers a batch or recipient may not set: the builder owns them.
_OWN = {
    "from",
    "to",
    "subject",
    "reply-to",
    "message-id",
    "date",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}
CRLF = b"\r\n"


class BadAddress(ValueError):
    """A recipient address that cannot go into a header (CR/LF, no '@')."""


def _header_text(value: str) -> str:
    if any(c in value for c in "\r\n"):
        raise BadAddress("header values may not contain line breaks")
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


@functools.lru_cache(maxsize=64)
def _mailbox_header(value: str) -> str:
    # From and Reply-To are the same for every message of a send: parse them once.
    name, address = parseaddr(value)
    return _address(name, address)


def _address(name: str, email: str) -> str:
    if "@" not in email or any(c in email for c in ' \r\n<>,;"') or email.count("@") != 1:
        raise BadAddress(f"not a usable address: {email!r}")
    if any(c in name for c in "\r\n"):
        raise BadAddress("a name may not contain line breaks")
    return formataddr((name, email), charset="utf-8")


def _part(content_type: str, body: str) -> bytes:
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).replace(b"\n", CRLF)
    head = (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode() + encoded


def render_message(batch: Batch, recipient: Recipient) -> bytes:
    """The message for ``recipient``: ``multipart/alternative`` (text/plain, then text/html),
    or plain text when the batch has no HTML. CRLF line endings, as SMTP wants them.

    Raises :class:`BadAddress` for an address that cannot be written into a header.
    """
    headers = [
        f"From: {_mailbox_header(batch.from_address)}",
        f"To: {_address(recipient.name, recipient.email)}",
    ]
    if batch.reply_to:
        headers.append(f"Reply-To: {_mailbox_header(batch.reply_to)}")
    headers += [
        f"Subject: {_header_text(personalise(batch.subject, recipient.values))}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {recipient.message_id or make_msgid()}",
        "MIME-Version: 1.0",
    ]
    for name, value in {**batch.headers, **recipient.headers}.items():
        if name.lower() not in _OWN:
            headers.append(f"{name}: {_header_text(value)}")
    text = _part("text/plain", personalise(batch.text, recipient.values))
    if batch.html is None:
        return "\r\n".join(headers).encode() + CRLF + text
    boundary = f"=_nl_{secrets.token_hex(12)}"
    html = _part("text/html", personalise(batch.html, html_values(recipient.values)))
    headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    sep = f"\r\n--{boundary}\r\n".encode()
    return b"".join(
        [
            "\r\n".join(headers).encode(),
            CRLF,
            CRLF,
            b"This is a multi-part message in MIME format.",
            sep,
            text,
            sep,
            html,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
