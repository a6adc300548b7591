"""A local stand-in for SendGrid's ``POST /v3/mail/send``, for tests and benchmarks.

It validates like SendGrid does (the documented limits and rules; see REFERENCE.md §1) and
answers ``202`` with an ``X-Message-Id``, or a SendGrid-shaped ``400``
(``{"errors": [{"message", "field", "help"}]}``), ``401`` without the right Bearer key, ``413``
past 30 MB. It records what it accepted, and can be scripted to answer the next requests with
a 429 (``X-RateLimit-Reset``), a 5xx, slowly (accepting the mail, as SendGrid would, but
answering after a delay), or by dropping the connection.

Run it on its own: ``python -m newsletter.devtools.sendgrid_standin --port 8025``; point
NEWSLETTER_SENDGRID_HOST at ``http://127.0.0.1:8025``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_BYTES = 30 * 1024 * 1024
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTIONS_BYTES = 10_000
MAX_CATEGORIES = 10
RESERVED_HEADERS = {
    "x-sg-id",
    "x-sg-eid",
    "received",
    "dkim-signature",
    "content-type",
    "content-transfer-encoding",
    "to",
    "from",
    "subject",
    "reply-to",
    "cc",
    "bcc",
}

Error = dict[str, Any]


def _error(message: str, field: str | None = None) -> Error:
    return {"message": message, "field": field, "help": None}


def _check_address(value: Any, where: str, errors: list[Error]) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("email"), str):
        errors.append(_error("The email address is required.", f"{where}.email"))
        return None
    email = value["email"]
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or " " in email:
        errors.append(_error("Does not contain a valid address.", f"{where}.email"))
    name = value.get("name")
    if name is not None and (not isinstance(name, str) or ";" in name or "," in name):
        errors.append(_error("The name may not contain ';' or ','.", f"{where}.name"))
    return str(email).lower()


def _check_strings(value: Any, where: str, errors: list[Error], *, limit: int | None) -> None:
    if not isinstance(value, dict):
        errors.append(_error("Invalid type. Expected: object.", where))
        return
    for key, item in value.items():
        if not isinstance(item, str):
            errors.append(
                _error(
                    f"Invalid type. Expected: string, given: {type(item).__name__}.",
                    f"{where}.{key}",
                )
            )
    if limit is not None and len(json.dumps(value).encode()) > limit:
        errors.append(_error(f"{where} may not exceed {limit} bytes.", where))


def _check_headers(value: Any, where: str, errors: list[Error]) -> None:
    _check_strings(value, where, errors, limit=None)
    if isinstance(value, dict):
        for key in value:
            if key.lower() in RESERVED_HEADERS:
                errors.append(
                    _error(f"The header {key} is reserved and may not be set.", f"{where}.{key}")
                )


def validate(payload: Any) -> list[Error]:
    """SendGrid's documented checks of a mail/send body; an empty list means valid."""
    errors: list[Error] = []
    if not isinstance(payload, dict):
        return [_error("Bad Request", None)]
    ps = payload.get("personalizations")
    if not isinstance(ps, list) or not ps:
        errors.append(
            _error(
                "The personalizations field is required and must have at least one personalization.",
                "personalizations",
            )
        )
        ps = []
    if len(ps) > MAX_PERSONALIZATIONS:
        errors.append(
            _error(
                "The personalizations field may not have more than 1000 items.", "personalizations"
            )
        )
    _check_address(payload.get("from"), "from", errors)
    if "reply_to" in payload and "reply_to_list" in payload:
        errors.append(_error("reply_to and reply_to_list cannot both be set.", "reply_to"))
    if "reply_to" in payload:
        _check_address(payload["reply_to"], "reply_to", errors)
    seen: set[str] = set()
    recipients = 0
    for i, p in enumerate(ps):
        where = f"personalizations.{i}"
        if not isinstance(p, dict):
            errors.append(_error("Invalid type. Expected: object.", where))
            continue
        to = p.get("to")
        if not isinstance(to, list) or not to:
            errors.append(
                _error(
                    "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
                    f"{where}.to",
                )
            )
            to = []
        for kind in ("to", "cc", "bcc"):
            for j, address in enumerate(p.get(kind) or []):
                recipients += 1
                email = _check_address(address, f"{where}.{kind}.{j}", errors)
                if email is not None:
                    if email in seen:
                        errors.append(
                            _error(
                                f"Each email address in the personalization block should be unique between to, cc, and bcc. We found the first duplicate instance of [{email}] in the {where}.{kind} field.",
                                f"{where}.{kind}",
                            )
                        )
                    seen.add(email)
        if (
            "subject" not in p
            and not isinstance(payload.get("subject"), str)
            and "template_id" not in payload
        ):
            errors.append(
                _error(
                    "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
                    "subject",
                )
            )
        if "headers" in p:
            _check_headers(p["headers"], f"{where}.headers", errors)
        if "substitutions" in p:
            _check_strings(
                p["substitutions"], f"{where}.substitutions", errors, limit=MAX_SUBSTITUTIONS_BYTES
            )
        if "custom_args" in p:
            _check_strings(
                p["custom_args"], f"{where}.custom_args", errors, limit=MAX_CUSTOM_ARGS_BYTES
            )
    if recipients > MAX_RECIPIENTS:
        errors.append(
            _error("The total number of recipients must be no more than 1000.", "personalizations")
        )
    if "headers" in payload:
        _check_headers(payload["headers"], "headers", errors)
    if "custom_args" in payload:
        _check_strings(payload["custom_args"], "custom_args", errors, limit=MAX_CUSTOM_ARGS_BYTES)
    content = payload.get("content")
    if "template_id" not in payload:
        if not isinstance(content, list) or not content:
            errors.append(
                _error(
                    "Unless a valid template_id is provided, the content parameter is required.",
                    "content",
                )
            )
            content = []
        types = [c.get("type") if isinstance(c, dict) else None for c in content]
        for k, c in enumerate(content):
            if not isinstance(c, dict) or not isinstance(c.get("value"), str) or not c.get("value"):
                errors.append(
                    _error(
                        "The content value must be a string at least one character in length.",
                        f"content.{k}.value",
                    )
                )
        if types.count("text/plain") > 1 or types.count("text/html") > 1:
            errors.append(
                _error("If present, text/plain and text/html may only be provided once.", "content")
            )
        if (
            "text/plain" in types
            and "text/html" in types
            and types.index("text/html") < types.index("text/plain")
        ):
            errors.append(
                _error(
                    "If present, text/plain must be first, followed by text/html, followed by any other content.",
                    "content",
                )
            )
    categories = payload.get("categories")
    if categories is not None:
        if not isinstance(categories, list) or len(categories) > MAX_CATEGORIES:
            errors.append(_error("Too many categories: at most 10.", "categories"))
        else:
            if len(set(categories)) != len(categories):
                errors.append(_error("Categories must be unique.", "categories"))
            for c in categories:
                if not isinstance(c, str) or len(c) > 255 or not c.isascii():
                    errors.append(
                        _error(
                            "A category must be an ASCII string of at most 255 characters.",
                            "categories",
                        )
                    )
    return errors


@dataclass
class Answer:
    """A scripted answer for one request (the next one not yet answered)."""

    status: int = 202
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0  # seconds before answering; the mail is accepted meanwhile
    drop: bool = False  # close the connection without answering
    accept: bool = False  # with drop: the mail was accepted before the connection dropped

    @classmethod
    def rate_limited(cls, reset_in: int = 1) -> Answer:
        return cls(
            429,
            {
                "X-RateLimit-Limit": "600",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + reset_in),
            },
            {"errors": [{"field": None, "message": "too many requests"}]},
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Answer:
        return cls(status, body={"errors": [{"field": None, "message": "internal error"}]})

    @classmethod
    def slow(cls, seconds: float) -> Answer:
        return cls(202, delay=seconds)

    @classmethod
    def dropped(cls, *, accept: bool = False) -> Answer:
        return cls(0, drop=True, accept=accept)


@dataclass
class Accepted:
    message_id: str
    payload: dict[str, Any] | None  # None when the stand-in does not record bodies
    recipients: int


class SendGridStandIn:
    """The server; use as a context manager (it runs in a background thread)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        record_bodies: bool = True,
    ) -> None:
        self.api_key = api_key
        self.record_bodies = record_bodies
        self.accepted: list[Accepted] = []
        self.requests = 0
        self.answers: deque[Answer] = deque()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        # A client that gave up (timeout tests) breaks the pipe: expected, not worth a traceback.
        self.server.handle_error = _quiet  # type: ignore[method-assign]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def recipients(self) -> int:
        return sum(a.recipients for a in self.accepted)

    def script(self, *answers: Answer) -> None:
        """Answer the next requests with ``answers``, in order (then normally again)."""
        with self.lock:
            self.answers.extend(answers)

    def start(self) -> SendGridStandIn:
        # A short poll interval: shutdown() waits up to one interval (tests start many).
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> SendGridStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self, payload: dict[str, Any]) -> str:
        message_id = secrets.token_urlsafe(16)
        recipients = sum(
            len(p.get(k) or []) for p in payload["personalizations"] for k in ("to", "cc", "bcc")
        )
        with self.lock:
            self.accepted.append(
                Accepted(message_id, payload if self.record_bodies else None, recipients)
            )
        return message_id


def _quiet(request: object, client_address: object) -> None:
    return None


def _handler(standin: SendGridStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and benchmarks read the records, not the log."""

        def _answer(
            self, status: int, body: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            with standin.lock:
                standin.requests += 1
            if self.path.rstrip("/") != "/v3/mail/send":
                self._answer(404, {"errors": [_error("Not found")]})
                return
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or (
                standin.api_key is not None and auth != f"Bearer {standin.api_key}"
            ):
                self._answer(
                    401,
                    {
                        "errors": [
                            _error(
                                "The provided authorization grant is invalid, expired, or revoked"
                            )
                        ]
                    },
                )
                return
            with standin.lock:
                scripted = standin.answers.popleft() if standin.answers else None
            if scripted is not None and scripted.status not in (0, 202):
                self._answer(scripted.status, scripted.body, scripted.headers)
                return
            if length > MAX_BYTES:
                self._answer(413, {"errors": [_error("content too large")]})
                return
            try:
                payload = json.loads(raw)
            except ValueError:
                self._answer(400, {"errors": [_error("Bad Request")]})
                return
            errors = validate(payload)
            if errors:
                self._answer(400, {"errors": errors, "id": secrets.token_hex(8)})
                return
            if scripted is not None and scripted.drop:
                if scripted.accept:
                    standin._accept(payload)
                self.close_connection = True
                self.connection.close()
                return
            message_id = standin._accept(payload)
            if scripted is not None and scripted.delay:
                time.sleep(scripted.delay)
            self._answer(202, None, {"X-Message-Id": message_id})

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument(
        "--no-record", action="store_true", help="count accepted requests, keep no bodies"
    )
    args = parser.parse_args(argv)
    standin = SendGridStandIn(
        host=args.host, port=args.port, api_key=args.api_key, record_bodies=not args.no_record
    )
    print(f"SendGrid stand-in listening on {standin.url}", flush=True)
    try:
        standin.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        standin.server.server_close()


if __name__ == "__main__":
    main()
