"""Link check: fetch every target of a bulletin before it is approved.

Editors type these URLs and the *server* fetches them, so the checker is a way into the
partnership's internal network unless it refuses private addresses. Every connection (the
first request's and each redirect's) is made by :class:`PinnedBackend`: the host name is
resolved once, the connection is refused when any address it resolves to is private,
loopback, link-local, multicast, reserved or unspecified (unless
``NEWSLETTER_LINKCHECK_ALLOW_PRIVATE`` is set; tests do, against a local server), and the
socket is opened to exactly an address that was checked. The HTTP client never resolves the
name itself, so a DNS answer that changes between the check and the connection (rebinding)
cannot send it elsewhere; the ``Host`` header, TLS SNI and the certificate check still use the
host name of the link.

A target is asked with HEAD first; servers that refuse HEAD (405, 501, and 403 from some
CDNs) are asked again with GET, reading no more than the headers. Redirects are followed up to
:data:`MAX_REDIRECTS`. Work is bounded: at most ``concurrency`` requests at once and a timeout
per request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from sqlmodel import Session, col, select

from newsletter.models import Link, LinkKind

MAX_REDIRECTS = 5
_RETRY_WITH_GET = {403, 405, 501}
_OWN_PAGES = {LinkKind.feedback, LinkKind.archive, LinkKind.honeypot}
_USER_AGENT = "newsletter-link-check/1 (+bulletin pre-approval check)"

__all__ = [
    "MAX_REDIRECTS",
    "LinkOutcome",
    "LinkStatus",
    "PinnedBackend",
    "Resolver",
    "TargetRefused",
    "bulletin_targets",
    "check_targets",
    "check_targets_async",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolves a host name and port to the addresses to connect to (``system_resolver``; tests
inject their own)."""


class LinkStatus(StrEnum):
    ok = "ok"
    slow = "slow"  # answered, but slower than the slow threshold
    broken = "broken"  # an error status, a timeout, a refused address or a network failure


@dataclass(frozen=True)
class LinkOutcome:
    """What one target URL gave: status code of the last hop, where it ended, how long it took."""

    url: str
    status: LinkStatus
    code: int | None
    final_url: str
    seconds: float
    problem: str  # plain words for a person; "" when status is ok

    @property
    def broken(self) -> bool:
        return self.status is LinkStatus.broken


class TargetRefused(Exception):
    """The target resolves to an address the server must not fetch."""


def _address_problem(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, words in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_private, "a private network address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_unspecified, "an unspecified address"),
    ):
        if test:
            return words
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection, in the system's order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"the host name {host} does not resolve ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _refuse_scheme_or_host(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise TargetRefused(f"only http and https links can be checked, not {parts.scheme!r}")
    if not parts.hostname:
        raise TargetRefused("the link has no host name")


async def _checked_addresses(
    host: str, port: int, resolver: Resolver, *, allow_private: bool
) -> list[str]:
    """Resolve ``host`` once; refuse it when any address is one the server must not fetch."""
    addresses = await resolver(host, port)
    if not addresses:
        raise TargetRefused(f"the host name {host} does not resolve")
    if not allow_private:
        for address in addresses:
            problem = _address_problem(address)
            if problem:
                raise TargetRefused(
                    f"{host} resolves to {problem}; the server does not fetch those"
                )
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens each connection to an address it has just resolved and checked, never by name.

    httpcore hands :meth:`connect_tcp` the URL's host name; this backend resolves it once with
    ``resolver``, refuses the connection (:class:`TargetRefused`) when any of the addresses is
    not public (unless ``allow_private``), and connects ``inner`` to those addresses in turn.
    TLS is started afterwards by httpcore on the returned stream with the host name as SNI and
    for the certificate check, so pinning the address changes nothing there.
    """

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        *,
        allow_private: bool = False,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _checked_addresses(
            host, port, self._resolver, allow_private=self._allow_private
        )
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # addresses is never empty
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("the link check connects only over TCP")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (its error mapping, TLS settings) over a :class:`PinnedBackend`."""

    def __init__(self, backend: PinnedBackend) -> None:
        tls = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=tls, trust_env=False)
        # httpx's own pool, as it builds it (its default limits), with the pinned backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


async def _fetch_once(client: httpx.AsyncClient, method: str, url: str) -> httpx.Response:
    async with client.stream(method, url) as response:
        return response  # headers only: the body is never read


async def _check_one(
    client: httpx.AsyncClient,
    url: str,
    *,
    slow_after: float,
) -> LinkOutcome:
    started = time.perf_counter()

    def outcome(status: LinkStatus, code: int | None, final: str, problem: str) -> LinkOutcome:
        return LinkOutcome(
            url, status, code, final, round(time.perf_counter() - started, 3), problem
        )

    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            _refuse_scheme_or_host(current)
            # The host's addresses are checked as each connection is opened (PinnedBackend).
            response = await _fetch_once(client, "HEAD", current)
            if response.status_code in _RETRY_WITH_GET:
                response = await _fetch_once(client, "GET", current)
        except TargetRefused as exc:
            return outcome(LinkStatus.broken, None, current, f"refused: {exc}")
        except httpx.TimeoutException:
            return outcome(LinkStatus.broken, None, current, "no answer before the time limit")
        except httpx.HTTPError as exc:
            return outcome(LinkStatus.broken, None, current, f"could not connect ({exc})")
        if response.is_redirect and "location" in response.headers:
            current = urljoin(current, response.headers["location"])
            continue
        code = response.status_code
        if code >= 400:
            return outcome(LinkStatus.broken, code, current, f"the page answered {code}")
        seconds = time.perf_counter() - started
        if seconds > slow_after:
            return outcome(LinkStatus.slow, code, current, f"slow: {seconds:.1f} s to answer")
        return outcome(LinkStatus.ok, code, current, "")
    return outcome(LinkStatus.broken, None, current, f"more than {MAX_REDIRECTS} redirects")


async def check_targets_async(
    urls: Iterable[str],
    *,
    allow_private: bool = False,
    timeout: float = 10.0,
    slow_after: float = 3.0,
    concurrency: int = 8,
    resolver: Resolver = system_resolver,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> list[LinkOutcome]:
    """Check each distinct URL once (in the order given), at most ``concurrency`` at a time.

    ``resolver`` and ``network`` (what opens the sockets to the checked addresses) are the
    system's unless a test gives its own."""
    distinct = list(dict.fromkeys(urls))
    gate = asyncio.Semaphore(concurrency)
    backend = PinnedBackend(resolver, allow_private=allow_private, inner=network)
    async with httpx.AsyncClient(
        transport=_PinnedTransport(backend),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # followed by hand, so each hop's address is checked
        headers={"User-Agent": _USER_AGENT},
        trust_env=False,
    ) as client:

        async def bounded(url: str) -> LinkOutcome:
            async with gate:
                try:
                    return await asyncio.wait_for(
                        _check_one(client, url, slow_after=slow_after),
                        # the whole chain of hops, not only each request, stays bounded
                        timeout=timeout * (MAX_REDIRECTS + 1),
                    )
                except TimeoutError:
                    return LinkOutcome(
                        url,
                        LinkStatus.broken,
                        None,
                        url,
                        timeout,
                        "no answer before the time limit",
                    )

        return list(await asyncio.gather(*(bounded(url) for url in distinct)))


def check_targets(
    urls: Iterable[str],
    *,
    allow_private: bool = False,
    timeout: float = 10.0,
    slow_after: float = 3.0,
    concurrency: int = 8,
    resolver: Resolver = system_resolver,
    network: httpcore.AsyncNetworkBackend | None = None,
) -> list[LinkOutcome]:
    """:func:`check_targets_async` for synchronous callers (the CLI, a threadpool in the web)."""
    return asyncio.run(
        check_targets_async(
            urls,
            allow_private=allow_private,
            timeout=timeout,
            slow_after=slow_after,
            concurrency=concurrency,
            resolver=resolver,
            network=network,
        )
    )


def bulletin_targets(
    session: Session, bulletin_id: int, *, agency: str | None = None
) -> list[Link]:
    """The registered links of a bulletin (of one agency's variant when ``agency`` is given),
    in position order. Links to our own pages (feedback, the archive, the honeypot) are left out."""
    links = session.exec(
        select(Link).where(col(Link.bulletin_id) == bulletin_id).order_by(col(Link.position))
    ).all()
    return [
        link
        for link in links
        if link.kind not in _OWN_PAGES
        and (agency is None or link.agencies is None or agency in link.agencies)
    ]
