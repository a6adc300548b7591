"""Machine-activity rules: which opens and clicks were most likely not made by a person.

Rules version ``2026-11-1`` (stored on every event as ``rules_version``). Raw events are always
kept; the rules only *flag* them (``machine`` + ``machine_reason``), and reports choose whether to
count them. The first rule that matches gives the reason:

``honeypot``
    The hidden honeypot link of the bulletin (kind ``honeypot``): invisible to a reader, so any
    hit is a machine that followed every link.
``method``
    A ``HEAD`` or ``OPTIONS`` request. Browsers follow links and load images with ``GET``; link
    checkers and mail gateways probe with ``HEAD``.
``scanner-agent``
    A user agent of a known link scanner or proxy (Microsoft Safe Links, Proofpoint URL Defense,
    Mimecast, Barracuda, Cisco/IronPort, Sophos, Trend Micro, Zscaler, Forcepoint, Symantec,
    FortiGuard), a headless or automated browser (HeadlessChrome, PhantomJS, Puppeteer,
    Playwright, Selenium), an HTTP library (curl, wget, python-requests/urllib/httpx, aiohttp,
    Go, Java, okhttp, libwww-perl) or anything calling itself a bot, spider, crawler or preview.
``empty-agent``
    No user agent at all: every mail client and browser sends one.
``apple-mpp``
    Opens only: Apple Mail Privacy Protection fetches every image through Apple's proxies
    whether or not the message is read. Its proxy sends the bare user agent ``Mozilla/5.0`` and
    comes from Apple's 17.0.0.0/8 network.
``early-click``
    Clicks only: less than ``min_click_seconds`` (setting ``NEWSLETTER_TRACKING_MIN_CLICK_SECONDS``,
    default 10 s) after the delivery was sent: gateways scan links on arrival, people are slower.
``honeypot-session``
    Any event of a delivery (a reader session in agency mode) within ``honeypot_window`` seconds
    (default 15 min) of a honeypot hit by the same delivery; earlier events of the same delivery
    in that window are flagged too (``flag_since`` below).
``burst``
    One delivery hitting two or more *different* links within ``burst_seconds`` (default 2 s):
    scanners open every link at once, a person reads between clicks. The earlier clicks of the
    burst are flagged too.
``sg-machine-open``
    SendGrid's own verdict on an open it tracked (``sg_machine_open: true``); set by the webhook.

Session memory (bursts, honeypot hits) lives in this process only, bounded in size. With several
web workers a burst split across workers may be missed; the raw events keep what is needed
(times, links, user agents) to re-judge them in a report.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

RULES_VERSION = "2026-11-1"


class Reason(StrEnum):
    method = "method"
    honeypot = "honeypot"
    scanner_agent = "scanner-agent"
    empty_agent = "empty-agent"
    apple_mpp = "apple-mpp"
    early_click = "early-click"
    honeypot_session = "honeypot-session"
    burst = "burst"
    sg_machine_open = "sg-machine-open"


_SCANNER_AGENTS = re.compile(
    r"safelinks|safe links|proofpoint|urldefense|mimecast|barracuda|ironport|cisco|sophos"
    r"|trend ?micro|zscaler|forcepoint|symantec|messagelabs|fortiguard|fortinet|avanan"
    r"|headlesschrome|headless|phantomjs|puppeteer|playwright|selenium|webdriver"
    r"|^curl/|^wget/|python-requests|python-urllib|python-httpx|aiohttp|go-http-client"
    r"|^java/|okhttp|libwww-perl|httpclient|bot\b|bot/|spider|crawler|preview|scanner",
    re.IGNORECASE,
)
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
_APPLE_PROXY_AGENT = "Mozilla/5.0"


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """The tunable thresholds of the rules (from Settings; see the module docstring)."""

    min_click_seconds: float = 10.0
    burst_seconds: float = 2.0
    honeypot_window_seconds: float = 900.0


@dataclass(frozen=True, slots=True)
class Hit:
    """One request to judge. ``session`` groups a reader's events: the delivery id, or in
    agency mode an in-memory key such as (client address, user agent); None disables the
    session rules."""

    kind: str  # "open" or "click"
    method: str
    user_agent: str | None
    client_ip: str | None
    now: datetime
    sent_at: datetime | None = None
    link_id: int | None = None
    honeypot: bool = False
    session: Hashable | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    machine: bool
    reason: str | None
    seconds_since_delivery: float | None
    # When set, earlier events of the same delivery since this time are machine activity too.
    flag_since: datetime | None = None
    rules_version: str = RULES_VERSION


@dataclass
class _Session:
    clicks: list[tuple[datetime, int]] = field(default_factory=list)
    honeypot_at: datetime | None = None


@lru_cache(maxsize=4096)  # a few agents make most requests; the regex is the costly part
def agent_reason(user_agent: str | None) -> Reason | None:
    """The user-agent rules alone: scanner/automation agents and the empty agent."""
    if user_agent is None or not user_agent.strip():
        return Reason.empty_agent
    if _SCANNER_AGENTS.search(user_agent):
        return Reason.scanner_agent
    return None


def is_apple_proxy(user_agent: str | None, client_ip: str | None) -> bool:
    """Apple Mail Privacy Protection's image proxy (bare agent, or Apple's network)."""
    if user_agent is not None and user_agent.strip() == _APPLE_PROXY_AGENT:
        return True
    if client_ip:
        try:
            return ipaddress.ip_address(client_ip) in _APPLE_NETWORK
        except ValueError:
            return False
    return False


class MachineRules:
    """Judges hits. Thread-safe; remembers recent sessions (bounded LRU) for the session rules."""

    def __init__(self, settings: RuleSettings | None = None, *, memory: int = 100_000) -> None:
        self.settings = settings or RuleSettings()
        self._memory = memory
        self._sessions: OrderedDict[Hashable, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def judge(self, hit: Hit) -> Judgement:
        """Classify one hit and remember it for the session rules."""
        since: float | None = None
        if hit.sent_at is not None:
            since = round((hit.now - hit.sent_at).total_seconds(), 3)
        reason, flag_since = self._reason(hit, since)
        return Judgement(
            machine=reason is not None,
            reason=None if reason is None else str(reason),
            seconds_since_delivery=since,
            flag_since=flag_since,
        )

    def _reason(self, hit: Hit, since: float | None) -> tuple[Reason | None, datetime | None]:
        session = self._remember(hit)
        window = timedelta(seconds=self.settings.honeypot_window_seconds)
        if hit.honeypot:
            return Reason.honeypot, hit.now - window if hit.session is not None else None
        if hit.method.upper() in {"HEAD", "OPTIONS"}:
            return Reason.method, None
        by_agent = agent_reason(hit.user_agent)
        if by_agent is not None:
            return by_agent, None
        if hit.kind == "open" and is_apple_proxy(hit.user_agent, hit.client_ip):
            return Reason.apple_mpp, None
        if hit.kind == "click" and since is not None and since < self.settings.min_click_seconds:
            return Reason.early_click, None
        if session is None:
            return None, None
        if session.honeypot_at is not None and abs(hit.now - session.honeypot_at) <= window:
            return Reason.honeypot_session, None
        if hit.kind == "click" and hit.link_id is not None:
            burst = timedelta(seconds=self.settings.burst_seconds)
            recent = [(t, link) for t, link in session.clicks if hit.now - t <= burst]
            others = [t for t, link in recent if link != hit.link_id]
            if others:
                return Reason.burst, min(others)
        return None, None

    def _remember(self, hit: Hit) -> _Session | None:
        """Update the session memory with this hit and return the session *before* it."""
        if hit.session is None:
            return None
        with self._lock:
            session = self._sessions.get(hit.session)
            if session is None:
                session = self._sessions[hit.session] = _Session()
                if len(self._sessions) > self._memory:
                    self._sessions.popitem(last=False)
            else:
                self._sessions.move_to_end(hit.session)
            # The lists are replaced, never changed in place, so the old ones are the snapshot.
            before = _Session(clicks=session.clicks, honeypot_at=session.honeypot_at)
            if hit.honeypot:
                session.honeypot_at = hit.now
            if hit.kind == "click" and hit.link_id is not None and not hit.honeypot:
                horizon = hit.now - timedelta(seconds=self.settings.burst_seconds)
                session.clicks = [c for c in session.clicks if c[0] >= horizon]
                session.clicks.append((hit.now, hit.link_id))
        return before
