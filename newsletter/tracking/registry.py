"""In-memory views of the link registry and the send ledger, for the redirect's hot path.

A bulletin's links never change once it has gone out (while it is a draft they are looked up
each time), and a delivery's bulletin, agency and send time never change once it was sent, so
both are cached (bounded LRU) after their first lookup: a click on a known link by a known delivery costs no query at all; its only database
work is its share of the recorder's group commit. Deliveries not yet sent (no ``sent_at``) are
looked up again each time, so the cache never holds a stale send time.

A send's clicks come in a burst, most readers clicking once, and every web process has its own
cache: looked up one by one, nearly every click would cost its process a query (a thread hop,
a pooled connection's check-out and ping, an ORM load: more than the rest of the click). So the
first sent delivery of a bulletin looked up in a process brings the bulletin's other sent
deliveries with it, in one query (bulletins of up to a quarter of the cache's size).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from newsletter.db import make_engine
from newsletter.models import Bulletin, BulletinStatus, Delivery, Link, LinkKind

_FINAL = {BulletinStatus.sending, BulletinStatus.sent, BulletinStatus.failed}

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LinkInfo:
    id: int
    bulletin_id: int
    month: str
    kind: LinkKind
    catalogue_id: str | None
    url: str
    agencies: tuple[str, ...] | None  # None: shown to every agency

    def shown_to(self, agency: str) -> bool:
        return self.agencies is None or agency in self.agencies


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    id: int
    bulletin_id: int
    agency: str
    subscriber_id: int | None
    sent_at: datetime | None


class _LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


def _read_engine(engine: Engine) -> Engine:
    """The engine lookups use. On SQLite, a lookup engine (:func:`newsletter.db.make_engine`):
    a lookup is one SELECT in autocommit, which in WAL mode never waits for (or holds up) the
    recorder's write lock. Elsewhere, ``engine``."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return engine
    return make_engine(engine.url, lookups=True)


# The columns of a DeliveryInfo, in its order (a Core query: no ORM object per lookup).
_DELIVERY = core_select(
    col(Delivery.id),
    col(Delivery.bulletin_id),
    col(Delivery.agency),
    col(Delivery.subscriber_id),
    col(Delivery.sent_at),
)


def _info(row: Any) -> DeliveryInfo:
    return DeliveryInfo(*row)


class Registry:
    """Cached lookups of links (with their bulletin's month) and deliveries."""

    def __init__(self, engine: Engine, *, links: int = 50_000, deliveries: int = 200_000) -> None:
        self._shared = engine
        self._engine = _read_engine(engine)
        self._links: _LRU[int, LinkInfo] = _LRU(links)
        self._deliveries: _LRU[int, DeliveryInfo] = _LRU(deliveries)
        self._months: _LRU[int, str] = _LRU(1_000)
        self._bulk_limit = deliveries // 4  # a bulletin's deliveries loaded at once, at most
        self._loaded: set[int] = set()  # bulletins whose sent deliveries were loaded (or tried)
        self._loading = threading.Lock()

    def close(self) -> None:
        """Release the lookup connections this registry opened itself."""
        if self._engine is not self._shared:
            self._engine.dispose()

    def cached_link(self, link_id: int) -> LinkInfo | None:
        return self._links.get(link_id)

    def cached_delivery(self, delivery_id: int) -> DeliveryInfo | None:
        return self._deliveries.get(delivery_id)

    def cached_month(self, bulletin_id: int) -> str | None:
        return self._months.get(bulletin_id)

    def link(self, link_id: int) -> LinkInfo | None:
        """The link with this id, or None. May query (call off the event loop)."""
        cached = self._links.get(link_id)
        if cached is not None:
            return cached
        with Session(self._engine) as session:
            row = session.exec(
                select(Link, Bulletin.month, Bulletin.status)
                .join(Bulletin, col(Bulletin.id) == col(Link.bulletin_id))
                .where(col(Link.id) == link_id)
            ).first()
        if row is None:
            return None
        link, month, status = row
        assert link.id is not None
        info = LinkInfo(
            id=link.id,
            bulletin_id=link.bulletin_id,
            month=month,
            kind=LinkKind(link.kind),
            catalogue_id=link.catalogue_id,
            url=link.url,
            agencies=None if link.agencies is None else tuple(link.agencies),
        )
        # A draft's links are replaced on every rebuild (and SQLite may reuse their ids): only
        # the links of a bulletin that went out are fixed for good.
        if status in _FINAL:
            self._links.put(link_id, info)
        self._months.put(link.bulletin_id, month)
        return info

    def delivery(self, delivery_id: int) -> DeliveryInfo | None:
        """The delivery with this id, or None. May query (call off the event loop)."""
        cached = self._deliveries.get(delivery_id)
        if cached is not None:
            return cached
        with self._engine.connect() as conn:
            row = conn.execute(_DELIVERY.where(col(Delivery.id) == delivery_id)).first()
        if row is None:
            return None
        info = _info(row)
        if info.sent_at is not None:
            self._deliveries.put(delivery_id, info)
            self._load_bulletin(info.bulletin_id)
        return info

    def _load_bulletin(self, bulletin_id: int) -> None:
        """Cache the bulletin's sent deliveries, once per process (see the module)."""
        with self._loading:
            if bulletin_id in self._loaded:
                return
            self._loaded.add(bulletin_id)
        with self._engine.connect() as conn:
            rows = conn.execute(
                _DELIVERY.where(
                    col(Delivery.bulletin_id) == bulletin_id, col(Delivery.sent_at).is_not(None)
                ).limit(self._bulk_limit + 1)
            ).all()
        if len(rows) > self._bulk_limit:
            return  # too many to hold: looked up one by one
        for row in rows:
            info = _info(row)
            self._deliveries.put(info.id, info)

    def month(self, bulletin_id: int) -> str | None:
        """The month of a bulletin, or None when there is no such bulletin."""
        cached = self._months.get(bulletin_id)
        if cached is not None:
            return cached
        with Session(self._engine) as session:
            month = session.exec(
                select(Bulletin.month).where(col(Bulletin.id) == bulletin_id)
            ).first()
        if month is not None:
            self._months.put(bulletin_id, month)
        return month
