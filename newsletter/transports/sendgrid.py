"""SendGrid transport: one ``POST /v3/mail/send`` per batch through the official client.

The variant's body goes once per request; each recipient is a personalization with the
placeholders as ``substitutions``, their own List-Unsubscribe headers and ``custom_args``
carrying only ids (they come back on every webhook event; never anything personal). SendGrid's
own click, open and subscription tracking are off: we track through our own links.

Substitutions apply alike to text and HTML, but a name must be HTML-escaped in the HTML part
only; so the HTML body's name placeholder is renamed to :data:`NAME_HTML` (once per batch) and
given the escaped value.

Responses: 202 -> every recipient sent, with ``X-Message-Id``; 400 -> :class:`PermanentError`
with SendGrid's field errors; 401/403 -> :class:`AuthenticationError`; 413 -> PermanentError;
429 -> :class:`RateLimited` until ``X-RateLimit-Reset``; 5xx and a refused connection ->
:class:`RetryableError`; a timeout or dropped connection *after* the request was sent ->
:class:`OutcomeUnknown` (SendGrid has no idempotency key, so resending could duplicate).
"""

from __future__ import annotations

import html
import http.client
import json
import logging
import urllib.error
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any

import orjson
from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from newsletter.personalise import NAME
from newsletter.textcheck import one_line
from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    RecipientResult,
    RetryableError,
)

log = logging.getLogger(__name__)

NAME_HTML = "__NL_NAME_HTML__"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_PERSONALIZATIONS = 1000
TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
}


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    out = {"email": email}
    if name:
        out["name"] = name
    return out


def _safe_name(name: str) -> str:
    # SendGrid refuses ';' and ',' in to.name; a line break would reach its MIME headers.
    return one_line(name).replace(";", " ").replace(",", " ").strip()


def build_payload(batch: Batch) -> dict[str, Any]:
    """The JSON body of one mail/send request for ``batch`` (at most 1000 recipients).

    Called for every 1000 recipients of a send, so the per-recipient loop does only what
    differs per recipient (what is shared is computed once per call)."""
    if len(batch.recipients) > MAX_PERSONALIZATIONS:
        raise ValueError(f"SendGrid takes at most {MAX_PERSONALIZATIONS} recipients a request")
    content = [{"type": "text/plain", "value": batch.text}]
    has_html = batch.html is not None
    if batch.html is not None:
        content.append({"type": "text/html", "value": batch.html.replace(NAME, NAME_HTML)})
    bulletin_id = str(batch.bulletin_id) if batch.bulletin_id is not None else None
    escape = html.escape
    personalizations: list[dict[str, Any]] = []
    append = personalizations.append
    for r in batch.recipients:
        values = r.values
        substitutions = dict(values)
        if has_html:
            # As personalise.html_values escapes a value for an HTML body.
            substitutions[NAME_HTML] = escape(values.get(NAME, ""), quote=True)
        name = _safe_name(r.name)
        p: dict[str, Any] = {
            "to": [{"email": r.email, "name": name} if name else {"email": r.email}],
            "substitutions": substitutions,
        }
        if r.headers:
            p["headers"] = dict(r.headers)
        args = {}
        if bulletin_id is not None:
            args["bulletin_id"] = bulletin_id
        if r.delivery_id is not None:
            args["delivery_id"] = str(r.delivery_id)
        if args:
            p["custom_args"] = args
        append(p)
    payload: dict[str, Any] = {
        "personalizations": personalizations,
        "from": _address(batch.from_address),
        "subject": one_line(batch.subject),
        "content": content,
        "tracking_settings": TRACKING_OFF,
    }
    if batch.reply_to:
        payload["reply_to"] = _address(batch.reply_to)
    if batch.category:
        payload["categories"] = [batch.category]
    if batch.headers:
        payload["headers"] = dict(batch.headers)
    return payload


def build_body(batch: Batch) -> str:
    """:func:`build_payload` serialised: the exact request body (orjson: the stdlib encoder
    took longer than the request itself for 1000 personalizations)."""
    return orjson.dumps(build_payload(batch)).decode()


def _field_errors(exc: http_errors.HTTPError) -> str:
    try:
        errors = json.loads(exc.body or b"{}").get("errors", [])
    except (ValueError, AttributeError):
        return (exc.body or b"").decode(errors="replace")[:500]
    parts = []
    for e in errors:
        field = e.get("field")
        parts.append(f"{field}: {e.get('message')}" if field else str(e.get("message")))
    return "; ".join(parts)


def _reset_at(headers: Any) -> datetime | None:
    value = headers.get("X-RateLimit-Reset") if headers is not None else None
    try:
        return datetime.fromtimestamp(int(value), UTC) if value else None
    except (TypeError, ValueError):
        return None


def _same_batch(a: Batch, b: Batch) -> bool:
    """Same shared content and the very same recipient objects (a retry of part of a batch,
    or a batch rebuilt without someone who left, is not the same)."""
    if len(a.recipients) != len(b.recipients):
        return False
    shared = (
        a.subject == b.subject
        and a.html == b.html  # the same str object: an identity check, not 40 KB compared
        and a.text == b.text
        and a.from_address == b.from_address
        and a.reply_to == b.reply_to
        and a.bulletin_id == b.bulletin_id
        and a.category == b.category
        and a.headers == b.headers
    )
    return shared and all(x is y for x, y in zip(a.recipients, b.recipients, strict=True))


class SendGridTransport:
    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS

    def __init__(self, api_key: str, *, host: str, timeout: float) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # The client's default timeout is None (wait forever); never send without one.
        self.client.client.timeout = timeout
        self.timeout = timeout
        # We hand the client a serialised body (see build_body); with any Content-Type other
        # than exactly "application/json" it sends a string as it is rather than json.dumps it.
        self.client.client.request_headers["Content-Type"] = JSON_CONTENT_TYPE
        self._prepared: list[tuple[Batch, str]] = []

    def post(self, payload: dict[str, Any] | str) -> Any:
        """POST a prebuilt payload (a dict, or a body from :func:`build_body`), mapping
        failures onto the transport exceptions."""
        body = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        try:
            return self.client.client.mail.send.post(request_body=body, timeout=self.timeout)
        except http_errors.HTTPError as exc:
            status = int(exc.status_code)
            detail = _field_errors(exc)
            if status == 429:
                raise RateLimited(
                    "SendGrid: 429 too many requests", reset_at=_reset_at(exc.headers)
                ) from exc
            if status in (401, 403):
                raise AuthenticationError(
                    f"SendGrid: {status} {exc.reason}", detail=detail
                ) from exc
            if status == 413:
                raise PermanentError("SendGrid: 413 message too large", detail=detail) from exc
            if status >= 500:
                raise RetryableError(f"SendGrid: {status} {exc.reason}", detail=detail) from exc
            raise PermanentError(f"SendGrid: {status} {exc.reason}", detail=detail) from exc
        except urllib.error.URLError as exc:
            # urllib wraps errors raised while connecting and writing the request: SendGrid
            # has not received a whole request, so trying again cannot duplicate anything.
            raise RetryableError(f"SendGrid unreachable: {exc.reason}") from exc
        except (TimeoutError, http.client.HTTPException, ConnectionError) as exc:
            # Raised while waiting for the answer: the request was sent and may be queued.
            raise OutcomeUnknown(
                f"SendGrid did not answer ({type(exc).__name__}: {exc}); the batch may have "
                "been accepted"
            ) from exc

    def prepare(self, batch: Batch) -> None:
        """Build ``batch``'s request body ahead of :meth:`send` (the dispatcher calls this while
        the previous batch is in flight). Nothing is sent; a later ``send`` of a batch with the
        same content and the same recipient objects uses the prepared body instead of building
        it again. Only the two most recent preparations are kept."""
        prepared = (batch, build_body(batch))
        self._prepared = [*self._prepared[-1:], prepared]

    def _body(self, batch: Batch) -> str:
        for prepared in list(self._prepared):
            if _same_batch(prepared[0], batch):
                self._prepared = [p for p in self._prepared if p is not prepared]
                return prepared[1]
        return build_body(batch)

    def send(self, batch: Batch) -> list[RecipientResult]:
        response = self.post(self._body(batch))
        if response.status_code not in (200, 202):
            raise OutcomeUnknown(f"SendGrid answered {response.status_code}")
        message_id = response.headers.get("X-Message-Id")
        return [
            RecipientResult(r, Outcome.sent, provider_message_id=message_id)
            for r in batch.recipients
        ]

    def close(self) -> None:
        """The client opens a connection per request; nothing to release."""
