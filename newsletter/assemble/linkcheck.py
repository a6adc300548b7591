"""Link check: fetch every target of a bulletin before it is approved.

Editors type these URLs and the *server* fetches them, so the checker is a way into the
partnership's internal network unless it refuses private addresses. Every hop (the first
request and each redirect) is resolved first and refused when any address it resolves to is
private, loopback, link-local, multicast, reserved or unspecified, unless
``NEWSLETTER_LINKCHECK_ALLOW_PRIVATE`` is set (tests do, against a local server). The check is
made on the resolved addresses just before connecting; a DNS answer that changes between the
check and the connection (rebinding) is the remaining gap, stated in docs/security.md.

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
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

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
    "TargetRefused",
    "bulletin_targets",
    "check_targets",
    "check_targets_async",
    "refuse_private",
]


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


async def refuse_private(url: str) -> None:
    """Raise :class:`TargetRefused` unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise TargetRefused(f"only http and https links can be checked, not {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise TargetRefused("the link has no host name")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"the host name {host} does not resolve ({exc.strerror})") from exc
    for info in infos:
        problem = _address_problem(str(info[4][0]))
        if problem:
            raise TargetRefused(f"{host} resolves to {problem}; the server does not fetch those")


async def _fetch_once(client: httpx.AsyncClient, method: str, url: str) -> httpx.Response:
    async with client.stream(method, url) as response:
        return response  # headers only: the body is never read


async def _check_one(
    client: httpx.AsyncClient,
    url: str,
    *,
    allow_private: bool,
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
            if not allow_private:
                await refuse_private(current)
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
) -> list[LinkOutcome]:
    """Check each distinct URL once (in the order given), at most ``concurrency`` at a time."""
    distinct = list(dict.fromkeys(urls))
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # followed by hand, so each hop's address is checked
        headers={"User-Agent": _USER_AGENT},
        trust_env=False,
    ) as client:

        async def bounded(url: str) -> LinkOutcome:
            async with gate:
                try:
                    return await asyncio.wait_for(
                        _check_one(client, url, allow_private=allow_private, slow_after=slow_after),
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
) -> list[LinkOutcome]:
    """:func:`check_targets_async` for synchronous callers (the CLI, a threadpool in the web)."""
    return asyncio.run(
        check_targets_async(
            urls,
            allow_private=allow_private,
            timeout=timeout,
            slow_after=slow_after,
            concurrency=concurrency,
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
