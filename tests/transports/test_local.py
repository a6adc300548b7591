"""The outbox and SMTP transports; SMTP against a real aiosmtpd server started by the test."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from newsletter.config import Settings
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.transports import make_transport
from newsletter.transports.base import (
    AuthenticationError,
    Batch,
    Outcome,
    Recipient,
    RetryableError,
)
from newsletter.transports.outbox import OutboxTransport
from newsletter.transports.smtp import SmtpTransport
from tests.conftest import make_settings


def recipient(n: int, *, email_address: str | None = None, name: str = "Ann <A&B>") -> Recipient:
    return Recipient(
        delivery_id=n,
        email=email_address or f"person{n}@example.org",
        name=name,
        values={TOKEN: f"d{n}.mac", SUBSCRIBER: f"sub{n}", NAME: name},
        headers={
            "List-Unsubscribe": f"<mailto:u@example.org?subject=unsubscribe>, <https://x/u/sub{n}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        message_id=f"<nl.d{n}.abc@example.org>",
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
    )


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def assert_personalised(msg: EmailMessage, n: int) -> None:
    assert msg["To"].addresses[0].addr_spec == f"person{n}@example.org"
    assert msg["Message-ID"] == f"<nl.d{n}.abc@example.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"https://x/u/sub{n}" in msg["List-Unsubscribe"]
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = msg.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert f"Hello Ann <A&B> https://x/c/d{n}.mac/1" in text_part.get_content()
    assert f"Hello Ann &lt;A&amp;B&gt; <a href='https://x/c/d{n}.mac/1'>" in html_part.get_content()


# --- outbox --------------------------------------------------------------------------------


def test_the_outbox_writes_one_complete_eml_per_recipient_under_the_month(
    plain_settings: Settings,
) -> None:
    outbox = make_transport(plain_settings, "outbox")
    assert isinstance(outbox, OutboxTransport)

    results = outbox.send(batch(recipient(1), recipient(2)))

    folder = plain_settings.data_dir / "outbox" / "2026-07"
    files = sorted(folder.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary files left behind
    assert [r.outcome for r in results] == [Outcome.sent, Outcome.sent]
    by_name = {f.name.split("-")[0]: f for f in files}
    assert_personalised(parse(by_name["d1"].read_bytes()), 1)
    assert_personalised(parse(by_name["d2"].read_bytes()), 2)


def test_the_outbox_puts_notifications_in_their_own_folder(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    note = Batch(
        subject="Approved",
        html=None,
        text="July is approved",
        recipients=[Recipient(None, "editor@example.org", "", {})],
        from_address="learning@example.org",
    )
    outbox.send(note)
    (path,) = (tmp_path / "notifications").iterdir()
    msg = parse(path.read_bytes())
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().strip() == "July is approved"


def test_an_address_the_email_package_refuses_fails_that_recipient_only(tmp_path: Path) -> None:
    results = OutboxTransport(tmp_path).send(
        batch(recipient(1, email_address="bad address@@x"), recipient(2))
    )
    assert [r.outcome for r in results] == [Outcome.failed, Outcome.sent]


# --- SMTP ---------------------------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that keeps what it receives and refuses scripted addresses."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.peers: list[Any] = []  # the client's (address, port) of each message's connection
        self.refuse: dict[str, str] = {}  # address -> SMTP reply

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"user", b"p@ss")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    with socket.socket() as probe:  # aiosmtpd's start() cannot take port 0: pick a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def test_smtp_delivers_each_message_over_one_connection_and_the_server_parses_them(
    smtp_server: tuple[Recorder, int], tmp_path: Path
) -> None:
    recorder, port = smtp_server
    settings = make_settings(tmp_path, smtp_url=f"smtp://user:p%40ss@127.0.0.1:{port}")
    smtp = make_transport(settings, "smtp")
    assert isinstance(smtp, SmtpTransport)

    results = smtp.send(batch(recipient(1), recipient(2)))
    smtp.send(batch(recipient(3)))
    smtp.close()

    assert [r.outcome for r in results] == [Outcome.sent, Outcome.sent]
    assert len(set(recorder.peers)) == 1  # one client connection carried all three
    assert [(frm, to) for frm, to, _ in recorder.messages] == [
        ("learning@example.org", ["person1@example.org"]),
        ("learning@example.org", ["person2@example.org"]),
        ("learning@example.org", ["person3@example.org"]),
    ]
    for n, (_, _, data) in enumerate(recorder.messages, start=1):
        assert_personalised(parse(data), n)


def test_smtp_5xx_fails_one_recipient_and_4xx_defers_it(
    smtp_server: tuple[Recorder, int],
) -> None:
    recorder, port = smtp_server
    recorder.refuse = {
        "person1@example.org": "550 5.1.1 No such user",
        "person2@example.org": "451 4.3.0 Try again later",
    }
    smtp = SmtpTransport(f"smtp://user:p%40ss@127.0.0.1:{port}")

    results = smtp.send(batch(recipient(1), recipient(2), recipient(3)))
    smtp.close()

    assert [r.outcome for r in results] == [Outcome.failed, Outcome.deferred, Outcome.sent]
    assert results[0].error is not None
    assert "550" in results[0].error
    assert [to for _, to, _ in recorder.messages] == [["person3@example.org"]]


def test_smtp_bad_credentials_raise_an_authentication_error(
    smtp_server: tuple[Recorder, int],
) -> None:
    _, port = smtp_server
    with pytest.raises(AuthenticationError, match="login"):
        SmtpTransport(f"smtp://user:wrong@127.0.0.1:{port}").send(batch(recipient(1)))


def test_smtp_that_cannot_connect_is_retryable(smtp_server: tuple[Recorder, int]) -> None:
    _, _port = smtp_server
    with pytest.raises(RetryableError, match="cannot connect"):
        SmtpTransport("smtp://127.0.0.1:1").send(batch(recipient(1)))


def test_smtp_urls_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="smtp://host"):
        SmtpTransport("http://example.org")
    with pytest.raises(ValueError, match="starttls must be yes or no"):
        SmtpTransport("smtp://example.org?starttls=maybe")
    with pytest.raises(ValueError, match="NEWSLETTER_SMTP_URL"):
        make_transport(make_settings(tmp_path), "smtp")
    secure = SmtpTransport("smtps://u:p@mail.example.org")
    assert (secure.tls, secure.port, secure.username) == (True, 465, "u")


def test_non_ascii_names_subjects_and_bodies_survive_the_round_trip(tmp_path: Path) -> None:
    note = Batch(
        subject="Café __NL_NAME__",
        html="<p>Grüße __NL_NAME__</p>",
        text="Grüße __NL_NAME__ " + "x" * 200,
        recipients=[recipient(1, name="Zoë Ñúñez")],
        from_address="Partnership Café <learning@example.org>",
        month="2026-07",
    )
    OutboxTransport(tmp_path).send(note)
    (path,) = (tmp_path / "2026-07").iterdir()
    msg = parse(path.read_bytes())
    assert msg["Subject"] == "Café Zoë Ñúñez"
    assert msg["To"].addresses[0].display_name == "Zoë Ñúñez"
    assert msg["From"].addresses[0].display_name == "Partnership Café"
    text_part, html_part = msg.iter_parts()
    assert text_part.get_content() == "Grüße Zoë Ñúñez " + "x" * 200
    assert html_part.get_content() == "<p>Grüße Zoë Ñúñez</p>"
    assert all(len(line) <= 998 for line in path.read_bytes().split(b"\r\n"))


def _self_signed() -> tuple[bytes, bytes]:
    """A certificate and key for 127.0.0.1, so the test can speak real TLS."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


class TlsRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.encrypted.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


def test_smtp_upgrades_with_starttls_when_offered_and_logs_in_over_tls(tmp_path: Path) -> None:
    import ssl

    cert, key = _self_signed()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    recorder = TlsRecorder()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        tls_context=server_context,
        require_starttls=True,
    )
    controller.start()
    try:
        client_context = ssl.create_default_context(cadata=cert.decode())
        smtp = SmtpTransport(f"smtp://user:p%40ss@127.0.0.1:{port}", context=client_context)
        results = smtp.send(batch(recipient(1)))
        smtp.close()
    finally:
        controller.stop()

    assert [r.outcome for r in results] == [Outcome.sent]
    assert recorder.encrypted == [True]


def test_smtp_refuses_to_send_in_clear_when_starttls_is_required_but_not_offered(
    smtp_server: tuple[Recorder, int],
) -> None:
    recorder, port = smtp_server
    with pytest.raises(AuthenticationError, match="does not offer STARTTLS"):
        SmtpTransport(f"smtp://127.0.0.1:{port}?starttls=yes").send(batch(recipient(1)))
    assert recorder.messages == []
