"""One recipient's RFC 5322 message from a batch: placeholders filled, text before HTML.

Used by the local transports (outbox, SMTP); SendGrid builds its own MIME from the JSON.
"""

from __future__ import annotations

import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from newsletter.personalise import html_values, personalise
from newsletter.transports.base import Batch, Recipient

# Headers a batch or recipient may not set: the builder owns them.
_OWN = {"from", "to", "subject", "reply-to", "message-id", "date", "mime-version", "content-type"}
_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_message(batch: Batch, recipient: Recipient) -> EmailMessage:
    """``multipart/alternative`` (text/plain, then text/html) or plain text when there is no
    HTML. CRLF line endings and 8-bit safe encodings, as SMTP wants them."""
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = batch.from_address
    msg["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
    if batch.reply_to:
        msg["Reply-To"] = batch.reply_to
    msg["Subject"] = personalise(batch.subject, recipient.values)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = recipient.message_id or make_msgid()
    for name, value in {**batch.headers, **recipient.headers}.items():
        if name.lower() not in _OWN:
            msg[name] = value
    msg.set_content(personalise(batch.text, recipient.values), cte="quoted-printable")
    if batch.html is not None:
        msg.add_alternative(
            personalise(batch.html, html_values(recipient.values)),
            subtype="html",
            cte="quoted-printable",
        )
    return msg
