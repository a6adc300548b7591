"""DNS rebinding against the link checker: the connection goes to the address that was checked.

A host name that answers a public address to the first look-up and 127.0.0.1 to the next is
the classic way to turn a "check, then fetch" server against its own network. Here the
checker resolves with an injected resolver that does exactly that, and opens its sockets
through a stand-in for the network that routes each address to a local server: the public
address to a "public site", 127.0.0.1 to an "internal service" that counts what reaches it.
"""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from newsletter.assemble.linkcheck import LinkStatus, check_targets

PUBLIC = "93.184.215.14"  # a public address (example.com's); never really connected to here
HOST = "rebind.example"


class _Site(BaseHTTPRequestHandler):
    """Answers by path: /hop redirects to /inside on a fresh connection; anything else 200."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))  # type: ignore[attr-defined]
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/inside")
            self.send_header("Connection", "close")  # the next hop opens a new connection
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = _answer
    do_GET = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Site)
        self.seen: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return int(self.server_address[1])


@contextmanager
def serving(server: _Server) -> Iterator[_Server]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def public_site() -> Iterator[_Server]:
    with serving(_Server()) as server:
        yield server


@pytest.fixture
def internal_service() -> Iterator[_Server]:
    with serving(_Server()) as server:
        yield server


@dataclass
class RebindingDns:
    """Answers the public address to the first look-up of HOST, 127.0.0.1 to every later one."""

    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host != HOST:
            return [host]  # a numbered address resolves to itself, as getaddrinfo does
        return [PUBLIC] if len(self.lookups) == 1 else ["127.0.0.1"]


class LoopbackNetwork(httpcore.AsyncNetworkBackend):
    """The network as the checker meets it: an address is routed to the local server that
    stands for it (the public address to the public site, 127.0.0.1 to the internal service);
    any other address, or a host name, cannot be reached."""

    def __init__(self, routes: dict[str, int]) -> None:
        self.routes = routes
        self.connected: list[str] = []
        self._real = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connected.append(host)
        if host not in self.routes:
            raise httpcore.ConnectError(f"no route to {host}")
        return await self._real.connect_tcp("127.0.0.1", self.routes[host], timeout)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("no unix sockets here")

    async def sleep(self, seconds: float) -> None:
        await self._real.sleep(seconds)


def network_for(public: _Server, internal: _Server) -> LoopbackNetwork:
    return LoopbackNetwork({PUBLIC: public.port, "127.0.0.1": internal.port})


def test_a_host_that_rebinds_to_loopback_after_the_check_is_fetched_from_the_checked_address(
    public_site: _Server, internal_service: _Server
) -> None:
    dns = RebindingDns()
    network = network_for(public_site, internal_service)

    (result,) = check_targets([f"http://{HOST}/page"], timeout=2.0, resolver=dns, network=network)

    assert result.status is LinkStatus.ok, result.problem
    assert network.connected == [PUBLIC]  # the address that was checked, by number
    assert dns.lookups == [HOST]  # resolved once: nothing else looked the name up again
    assert public_site.seen == [("/page", HOST)]  # the Host header still names the site
    assert internal_service.seen == []


def test_a_redirect_that_needs_a_new_connection_is_resolved_and_checked_again_and_refused(
    public_site: _Server, internal_service: _Server
) -> None:
    dns = RebindingDns()
    network = network_for(public_site, internal_service)

    (result,) = check_targets([f"http://{HOST}/hop"], timeout=2.0, resolver=dns, network=network)

    assert result.status is LinkStatus.broken
    assert result.problem == (
        f"refused: {HOST} resolves to a loopback address; the server does not fetch those"
    )
    assert result.final_url == f"http://{HOST}/inside"
    assert dns.lookups == [HOST, HOST]
    assert "127.0.0.1" not in network.connected
    assert internal_service.seen == []


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused_before_any_connection(
    public_site: _Server, internal_service: _Server
) -> None:
    async def split(host: str, port: int) -> list[str]:
        return [PUBLIC, "10.1.2.3"]

    network = network_for(public_site, internal_service)

    (result,) = check_targets([f"http://{HOST}/"], timeout=2.0, resolver=split, network=network)

    assert result.problem.startswith(f"refused: {HOST} resolves to a private network address")
    assert network.connected == []


def test_private_addresses_allowed_by_the_setting_are_still_connected_to_as_resolved(
    public_site: _Server, internal_service: _Server
) -> None:
    async def internal(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    network = network_for(public_site, internal_service)

    (result,) = check_targets(
        [f"http://{HOST}/page"],
        timeout=2.0,
        allow_private=True,
        resolver=internal,
        network=network,
    )

    assert result.status is LinkStatus.ok, result.problem
    assert network.connected == ["127.0.0.1"]
    assert internal_service.seen == [("/page", HOST)]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_over_https_the_pinned_connection_sends_the_host_name_and_checks_its_certificate(
    tmp_path: Path, internal_service: _Server
) -> None:
    server = _Server()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_self_signed(tmp_path))
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    network = network_for(server, internal_service)
    with serving(server):
        (result,) = check_targets(
            [f"https://{HOST}/page"], timeout=2.0, resolver=RebindingDns(), network=network
        )

    # The certificate is one nobody vouches for: refused, so it was checked, for the name.
    assert result.status is LinkStatus.broken
    assert "CERTIFICATE_VERIFY_FAILED" in result.problem
    assert names == [HOST]  # SNI names the site, not the pinned address
    assert network.connected == [PUBLIC]
