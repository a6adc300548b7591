"""Resolving tracking tokens to what they stand for, and turning hits into event records.

The redirect target of a click comes only from the link registry: the token says *who* (a
delivery, or a bulletin and agency), the link id says *which registered link*; both must agree
(the link belongs to that bulletin and is shown to that agency) or the hit is unknown (404, no
event). Nothing in the request URL beyond those two is ever used.

Tracking modes (``NEWSLETTER_TRACKING``):

* ``individual``: events keep their delivery (and so the subscriber);
* ``agency``: events keep only bulletin and agency, even for a delivery token;
* ``off``: assembly adds no pixel or redirects; old links still resolve here but nothing is
  recorded.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from urllib.parse import quote

from sqlalchemy import Engine

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import EventType, LinkKind
from newsletter.tokens import AgencyRef, DeliveryRef, ProofRef, TokenRef, parse_token
from newsletter.tracking.recorder import EventRecord, Recorder
from newsletter.tracking.registry import DeliveryInfo, LinkInfo, Registry
from newsletter.tracking.rules import Hit, MachineRules, RuleSettings
from newsletter.urls import with_utm

_MAX_LOCATIONS = 100_000
_MAX_TOKENS = 200_000
_URL_SAFE = ":/%#?=@[]!$&'()*+,;"

ANSWER_WITHIN = 5.0  # seconds a reader waits for their event's commit


class _Miss(Enum):
    """A cache-only resolution needed the database."""

    MISS = "miss"


MISS = _Miss.MISS


@dataclass(frozen=True, slots=True)
class Reader:
    """Who a token stands for: a bulletin and agency, and the delivery when there is one."""

    bulletin_id: int
    agency: str
    delivery: DeliveryInfo | None
    proof: bool = False  # a --test-to (proof) copy: links work, nothing is recorded


@dataclass(frozen=True, slots=True)
class ClickTarget:
    reader: Reader
    link: LinkInfo
    location: str  # the registered URL with our UTM parameters

    @property
    def event_type(self) -> EventType:
        if self.link.kind == LinkKind.feedback:
            answer = (self.link.catalogue_id or "").lower()
            if answer.endswith("no"):
                return EventType.feedback_no
            if answer.endswith("yes"):
                return EventType.feedback_yes
        return EventType.click


@dataclass(frozen=True, slots=True)
class Visit:
    """What the rules need to know about an HTTP request."""

    method: str
    user_agent: str | None
    client_ip: str | None
    now: datetime


def rule_settings(settings: Settings) -> RuleSettings:
    return RuleSettings(
        min_click_seconds=settings.tracking_min_click_seconds,
        burst_seconds=settings.tracking_burst_seconds,
        honeypot_window_seconds=settings.tracking_honeypot_window,
    )


def _link_id(raw: str) -> int | None:
    # Only plain decimal ids: "12abc", "%31", "https://..." are all unknown links.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


class Tracker:
    """Resolves tokens and links (through the cached registry) and records hits."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        recorder: Recorder | None = None,
        registry: Registry | None = None,
        rules: MachineRules | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.mode = settings.tracking
        self.registry = registry or Registry(engine)
        # A reader waits at most ANSWER_WITHIN seconds for their event's commit; past that (a
        # database busy for longer) they are answered and the event stays queued until committed.
        self.recorder = recorder or Recorder(engine, clock=clock, answer_within=ANSWER_WITHIN)
        self.rules = rules or MachineRules(rule_settings(settings))
        self._key = settings.verification_keys  # current key first, then previous ones
        self._tokens: dict[str, TokenRef] = {}  # verified tokens only
        self._locations: dict[tuple[str, str, str], str] = {}  # with_utm, memoised

    # --- resolution --------------------------------------------------------------------------

    def resolve_reader(self, token: str, *, cached: bool = False) -> Reader | _Miss | None:
        """Who ``token`` stands for; None when forged, altered or naming nothing we sent."""
        return self._reader(self._parse(token), cached=cached)

    def _parse(self, token: str) -> TokenRef | None:
        """parse_token, remembering tokens that verified (a reader clicks and opens again)."""
        ref = self._tokens.get(token)
        if ref is None:
            ref = parse_token(self._key, token)
            if ref is not None:
                if len(self._tokens) >= _MAX_TOKENS:
                    self._tokens.clear()  # a crude bound, like the location memo
                self._tokens[token] = ref
        return ref

    def _reader(self, ref: TokenRef | None, *, cached: bool) -> Reader | _Miss | None:
        if isinstance(ref, DeliveryRef):
            delivery = (
                self.registry.cached_delivery(ref.delivery_id)
                if cached
                else self.registry.delivery(ref.delivery_id)
            )
            if delivery is None:
                return MISS if cached else None
            return Reader(delivery.bulletin_id, delivery.agency, delivery)
        if isinstance(ref, AgencyRef | ProofRef):
            month = (
                self.registry.cached_month(ref.bulletin_id)
                if cached
                else self.registry.month(ref.bulletin_id)
            )
            if month is None:
                return MISS if cached else None
            return Reader(ref.bulletin_id, ref.agency, None, isinstance(ref, ProofRef))
        return None

    def resolve_click(
        self, token: str, raw_link_id: str, *, cached: bool = False
    ) -> ClickTarget | _Miss | None:
        """The registered target of a click, or None (404). ``cached=True`` never queries and
        answers MISS when the caches cannot decide."""
        link_id = _link_id(raw_link_id)
        ref = self._parse(token) if link_id is not None else None
        if link_id is None or ref is None:
            return None
        reader = self._reader(ref, cached=cached)
        if reader is None or reader is MISS:
            return reader
        link = self.registry.cached_link(link_id) if cached else self.registry.link(link_id)
        if link is None:
            return MISS if cached else None
        assert isinstance(reader, Reader)
        if link.bulletin_id != reader.bulletin_id or not link.shown_to(reader.agency):
            return None
        location = self._locations.get((link.url, link.month, reader.agency))
        if location is None:
            # Quoted as Starlette's RedirectResponse would: a Location header must be ASCII.
            location = quote(
                with_utm(link.url, month=link.month, agency=reader.agency), safe=_URL_SAFE
            )
            if len(self._locations) >= _MAX_LOCATIONS:
                self._locations.clear()  # a crude bound; links x agencies is small in practice
            self._locations[(link.url, link.month, reader.agency)] = location
        return ClickTarget(reader=reader, link=link, location=location)

    # --- records -----------------------------------------------------------------------------

    def click_record(self, target: ClickTarget, request: Visit) -> EventRecord | None:
        """The event a click makes (None when tracking is off)."""
        return self._record(
            target.reader,
            request,
            kind="click",
            event_type=target.event_type,
            link=target.link,
        )

    def open_record(self, reader: Reader, request: Visit) -> EventRecord | None:
        """The event a pixel fetch makes (None when tracking is off)."""
        return self._record(reader, request, kind="open", event_type=EventType.open, link=None)

    def _record(
        self,
        reader: Reader,
        request: Visit,
        *,
        kind: str,
        event_type: EventType,
        link: LinkInfo | None,
    ) -> EventRecord | None:
        if self.mode == "off" or reader.proof:
            return None
        individual = self.mode == "individual" and reader.delivery is not None
        session: Hashable
        if individual:
            assert reader.delivery is not None
            session = reader.delivery.id
        else:
            # Agency mode and archive views: a reader is only an address and agent, in memory.
            session = ("anon", reader.bulletin_id, request.client_ip, request.user_agent)
        judgement = self.rules.judge(
            Hit(
                kind=kind,
                method=request.method,
                user_agent=request.user_agent,
                client_ip=request.client_ip,
                now=request.now,
                sent_at=reader.delivery.sent_at if reader.delivery else None,
                link_id=link.id if link else None,
                honeypot=link is not None and link.kind == LinkKind.honeypot,
                session=session,
            )
        )
        return EventRecord(
            type=event_type,
            occurred_at=request.now,
            delivery_id=reader.delivery.id if individual and reader.delivery else None,
            bulletin_id=reader.bulletin_id,
            agency=reader.agency,
            link_id=link.id if link else None,
            machine=judgement.machine,
            machine_reason=judgement.reason,
            rules_version=judgement.rules_version,
            seconds_since_delivery=judgement.seconds_since_delivery,
            method=request.method.upper(),
            user_agent=request.user_agent,
            flag_since=judgement.flag_since if individual else None,
        )

    def close(self) -> None:
        """Flush and stop the recorder; release the lookup connections."""
        self.recorder.close()
        self.registry.close()
