"""SMTP transport: to NEWSLETTER_SMTP_URL, one connection reused across a batch (and batches).

URL forms: ``smtp://[user:password@]host[:port][?starttls=yes|no]`` (STARTTLS when the server
offers it, unless ``starttls=no``; ``starttls=yes`` requires it) and ``smtps://...`` (TLS from
the first byte, port 465 by default). Credentials in the URL are percent-decoded.

Replies map onto the transport seam like this: a 4xx for one recipient is ``deferred`` (dispatch
tries again later); a 5xx is ``failed`` for that recipient only; a connection that cannot be
opened raises :class:`RetryableError` before anything is sent; bad credentials raise
:class:`AuthenticationError`; a connection lost in the middle of a message leaves that message
``unknown`` (the server may have queued it) and the rest ``deferred``.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    PermanentError,
    Recipient,
    RecipientResult,
    RetryableError,
)
from newsletter.transports.mime import BadAddress, render_message

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


class SmtpTransport:
    name = "smtp"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        max_batch: int = 200,
        context: ssl.SSLContext | None = None,
    ) -> None:
        """``context`` verifies the server's certificate (default: the system's trust store)."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                f"NEWSLETTER_SMTP_URL must be smtp://host[:port] or smtps://...: {url!r}"
            )
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        starttls = parse_qs(parts.query).get("starttls", [""])[0].lower()
        if starttls and starttls not in _TRUE | _FALSE:
            raise ValueError(f"starttls must be yes or no, not {starttls!r}")
        self.starttls: bool | None = None if not starttls else starttls in _TRUE
        self.timeout = timeout
        self.max_batch = max_batch
        self.context = context or ssl.create_default_context()
        self._conn: smtplib.SMTP | None = None

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        try:
            conn: smtplib.SMTP
            if self.tls:
                conn = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.context
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if not self.tls and self.starttls is not False:
                if conn.has_extn("starttls"):
                    conn.starttls(context=self.context)
                    conn.ehlo()
                elif self.starttls:
                    conn.close()
                    # A configuration problem, not this batch's: stop the send (rows stay
                    # pending) rather than fail recipients who could be sent once it is fixed.
                    raise AuthenticationError(
                        f"{self.host}:{self.port} does not offer STARTTLS (starttls=yes)"
                    )
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthenticationError(
                f"SMTP login to {self.host} refused", detail=_reply(exc)
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableError(f"cannot connect to SMTP {self.host}:{self.port}: {exc}") from exc
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()
        self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # -- sending ------------------------------------------------------------------------------

    def send(self, batch: Batch) -> list[RecipientResult]:
        conn = self._connection()
        _, sender = parseaddr(batch.from_address)
        results: list[RecipientResult] = []
        recipients = list(batch.recipients)
        for index, recipient in enumerate(recipients):
            try:
                data = render_message(batch, recipient)
            except BadAddress as exc:
                results.append(RecipientResult(recipient, Outcome.failed, error=str(exc)))
                continue
            try:
                conn.sendmail(sender, [recipient.email], data)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                results.append(_refused(recipient, code, text))
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421 or isinstance(exc, smtplib.SMTPSenderRefused):
                    if not results and exc.smtp_code >= 500:
                        raise PermanentError("SMTP sender refused", detail=_reply(exc)) from exc
                    # The server is closing or refuses us: nothing for this one was queued.
                    results.append(_refused(recipient, exc.smtp_code, exc.smtp_error))
                    if exc.smtp_code == 421:
                        self._drop()
                        results.extend(_deferred(recipients[index + 1 :], "connection closed"))
                        return results
                else:
                    results.append(_refused(recipient, exc.smtp_code, exc.smtp_error))
                    with contextlib.suppress(OSError, smtplib.SMTPException):
                        conn.rset()
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                # Lost mid-message: the server may have queued it. The rest never left.
                self._drop()
                results.append(RecipientResult(recipient, Outcome.unknown, error=str(exc)))
                results.extend(_deferred(recipients[index + 1 :], "connection lost"))
                return results
            else:
                results.append(
                    RecipientResult(
                        recipient, Outcome.sent, provider_message_id=recipient.message_id
                    )
                )
        return results

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._conn.quit()
            self._drop()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}"


def _refused(recipient: Recipient, code: int, text: bytes | str) -> RecipientResult:
    message = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    outcome = Outcome.deferred if 400 <= code < 500 else Outcome.failed
    return RecipientResult(recipient, outcome, error=message)


def _deferred(recipients: list[Recipient], reason: str) -> list[RecipientResult]:
    return [RecipientResult(r, Outcome.deferred, error=reason) for r in recipients]
