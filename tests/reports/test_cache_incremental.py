"""The report cache follows appended events incrementally, with the figures of a recount.

When only events were appended since a bulletin's cached rows (and deliveries marked sent), the
cache adds the new events to its counts instead of recounting the bulletin; a deletion, a machine
flag or a roll-up recounts it. Either way the cached rows must be exactly what a recount from
nothing gives: checked here over random sequences of writes, on both databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, select
from sqlalchemy.event import listen, remove
from sqlmodel import Session, col

from newsletter.dispatch.ledger import record_sent
from newsletter.eventlog import MachineFlag, add_event, delete_events, flag_machine, insert_events
from newsletter.models import (
    Bulletin,
    Delivery,
    DeliveryStatus,
    Event,
    EventSource,
    EventType,
    LinkKind,
    ReportCache,
    ReportCacheReason,
    ReportCacheState,
)
from newsletter.reports.cache import refresh_report_cache
from newsletter.reports.rollup import roll_up_events
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_event,
    make_link,
    make_subscriber,
    make_variant,
)
from tests.reports.fixture import build_july

START = datetime(2026, 7, 7, 9, 0, tzinfo=UTC)
AGENCIES = ("health", "police")
TYPES = [
    EventType.open,
    EventType.click,
    EventType.feedback_yes,
    EventType.feedback_no,
    EventType.bounce,
    EventType.unsubscribe,
    EventType.delivered,
]


@dataclass
class Scene:
    bulletin: Bulletin
    deliveries: list[Delivery]  # the first four sent, the last two pending
    link_ids: list[int]  # links 0 and 1 name the same course: a shared item


def _scene(session: Session) -> Scene:
    bulletin = make_bulletin(session)
    variants = {a: make_variant(session, bulletin, agency=a) for a in AGENCIES}
    links = [
        make_link(session, bulletin, catalogue_id="icon"),
        make_link(session, bulletin, catalogue_id="icon", section="Further reading"),
        make_link(session, bulletin),
        make_link(session, bulletin, kind=LinkKind.feedback, catalogue_id="useful-yes"),
    ]
    deliveries = []
    for n in range(6):
        agency = AGENCIES[n % 2]
        status = DeliveryStatus.sent if n < 4 else DeliveryStatus.pending
        deliveries.append(
            make_delivery(
                session,
                bulletin,
                make_subscriber(session, agency=agency),
                variants[agency],
                status=status,
            )
        )
    session.commit()
    return Scene(bulletin, deliveries, [link.id for link in links if link.id is not None])


def _cached(session: Session, bulletin_id: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The bulletin's cached rows, without their ids, in a comparable order."""
    rows = session.execute(
        select(*(c for c in ReportCache.__table__.c if c.name != "id")).where(  # type: ignore[attr-defined]
            col(ReportCache.bulletin_id) == bulletin_id
        )
    ).all()
    reasons = session.execute(
        select(
            col(ReportCacheReason.rules_version),
            col(ReportCacheReason.reason),
            col(ReportCacheReason.events),
        ).where(col(ReportCacheReason.bulletin_id) == bulletin_id)
    ).all()
    # repr: a column may hold None beside numbers or text, which do not compare.
    return sorted((tuple(r) for r in rows), key=repr), sorted((tuple(r) for r in reasons), key=repr)


def _recounted(session: Session, bulletin_id: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """What a refresh from nothing caches for the bulletin (its cached rows forgotten first)."""
    session.execute(
        delete(ReportCacheState).where(col(ReportCacheState.bulletin_id) == bulletin_id)
    )
    session.commit()
    assert refresh_report_cache(session, [bulletin_id]) == [bulletin_id]
    return _cached(session, bulletin_id)


def _up_to_date(session: Session, bulletin_id: int) -> tuple[list[tuple[Any, ...]], list[Any]]:
    refresh_report_cache(session, [bulletin_id])
    return _cached(session, bulletin_id)


# --- random sequences of writes ----------------------------------------------------------------

event_spec = st.tuples(
    st.integers(0, 6),  # delivery: 0-5, or 6 for an anonymous event (agency tracking mode)
    st.sampled_from(TYPES),
    st.integers(0, 4),  # link: 0-3, or 4 for none
    st.booleans(),  # machine
    st.sampled_from(["scanner", "apple-mpp"]),
)
step = st.one_of(
    st.tuples(st.just("append"), st.lists(event_spec, min_size=1, max_size=6)),
    st.tuples(st.just("refresh"), st.none()),
    st.tuples(st.just("check"), st.none()),
    st.tuples(st.just("flag"), st.integers(0, 5)),
    st.tuples(st.just("delete"), st.integers(0, 5)),
    st.tuples(st.just("sent"), st.integers(4, 5)),
    st.tuples(st.just("rollup"), st.none()),
)


class Writes:
    """Applies the steps through the service's own writers, with time moving on."""

    def __init__(self, session: Session, scene: Scene) -> None:
        self.session = session
        self.scene = scene
        self.minutes = 0

    def now(self) -> datetime:
        self.minutes += 1
        return START + timedelta(minutes=self.minutes)

    def append(self, events: list[tuple[int, EventType, int, bool, str]]) -> None:
        bulletin_id = self.scene.bulletin.id
        rows: list[dict[str, Any]] = []
        for d, kind, link, machine, reason in events:
            delivery = self.scene.deliveries[d] if d < 6 else None
            at = self.now()
            rows.append(
                {
                    "delivery_id": delivery.id if delivery else None,
                    "bulletin_id": bulletin_id,
                    "agency": delivery.agency if delivery else AGENCIES[link % 2],
                    "link_id": self.scene.link_ids[link] if link < 4 else None,
                    "type": str(kind),
                    "occurred_at": at,
                    "recorded_at": at,
                    "source": str(EventSource.web),
                    "machine": machine,
                    "machine_reason": reason if machine else None,
                    "rules_version": "v1" if machine else None,
                    "seconds_since_delivery": None,
                    "method": "GET",
                    "user_agent": None,
                    "provider_event_id": None,
                    "payload": None,
                }
            )
        if len(rows) == 1:  # one by one, as a session writer does
            add_event(self.session, Event(**rows[0]))
        else:  # in bulk, as the recorder does
            insert_events(self.session, rows)
        self.session.commit()

    def flag(self, d: int) -> None:
        delivery = self.scene.deliveries[d]
        assert delivery.id is not None
        flag_machine(
            self.session,
            [MachineFlag(delivery.bulletin_id, delivery.id, START, "late-scanner")],
        )
        self.session.commit()

    def delete(self, d: int) -> None:
        delete_events(self.session, col(Event.delivery_id) == self.scene.deliveries[d].id)
        self.session.commit()

    def sent(self, d: int) -> None:
        delivery = self.session.get(Delivery, self.scene.deliveries[d].id)
        assert delivery is not None
        assert delivery.id is not None
        if delivery.status == DeliveryStatus.sent:
            return
        delivery.status = DeliveryStatus.sending
        self.session.commit()
        bulletin_id = self.scene.bulletin.id
        assert bulletin_id is not None
        record_sent(self.session, [(delivery.id, None)], bulletin_id=bulletin_id, now=self.now())
        self.session.commit()

    def rollup(self) -> None:
        # Everything so far but the last few minutes: raw and rolled-up rows side by side.
        roll_up_events(self.session, before=START + timedelta(minutes=max(self.minutes - 3, 0)))


@hypothesis_settings(max_examples=30)
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_cached_counts_followed_incrementally_equal_a_recount(
    session: Session, steps: list[tuple[str, Any]]
) -> None:
    scene = _scene(session)
    bulletin_id = scene.bulletin.id
    assert bulletin_id is not None
    refresh_report_cache(session, [bulletin_id])  # warm: what follows is incremental if it can
    writes = Writes(session, scene)
    for name, argument in steps:
        if name == "refresh":
            refresh_report_cache(session, [bulletin_id])
        elif name == "check":
            assert _up_to_date(session, bulletin_id) == _recounted(session, bulletin_id)
        elif name == "rollup":
            writes.rollup()
        else:
            getattr(writes, name)(argument)
    assert _up_to_date(session, bulletin_id) == _recounted(session, bulletin_id)


# --- which writes recount, which do not --------------------------------------------------------


class Statements:
    """The SQL statements a refresh runs (to see whether it recounted the events)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[str] = []

    def __enter__(self) -> Statements:
        listen(self.engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *_exc: object) -> None:
        remove(self.engine, "before_cursor_execute", self._note)

    def _note(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement.lower())

    @property
    def recounted(self) -> bool:
        return any("count(distinct" in s for s in self.seen)


def test_a_click_after_a_warm_report_is_added_without_recounting_the_bulletin(
    session: Session, engine: Engine
) -> None:
    july = build_july(session)
    session.commit()
    bulletin_id = july.bulletin.id
    assert bulletin_id is not None
    refresh_report_cache(session, [bulletin_id])
    delivery = (
        session.execute(select(Delivery).where(col(Delivery.bulletin_id) == bulletin_id))
        .scalars()
        .first()
    )
    assert delivery is not None
    make_event(session, delivery, type=EventType.click, link_id=july.link_ids["icon1"])
    session.commit()
    with Statements(engine) as statements:
        assert refresh_report_cache(session, [bulletin_id]) == [bulletin_id]
    assert not statements.recounted
    assert _cached(session, bulletin_id) == _recounted(session, bulletin_id)


def test_a_machine_flag_or_a_deletion_recounts_the_bulletin(
    session: Session, engine: Engine
) -> None:
    scene = _scene(session)
    bulletin_id = scene.bulletin.id
    assert bulletin_id is not None
    writes = Writes(session, scene)
    writes.append([(0, EventType.click, 0, False, "scanner"), (1, EventType.open, 4, False, "")])
    refresh_report_cache(session, [bulletin_id])
    for change, delivery in ((writes.flag, 0), (writes.delete, 1)):
        change(delivery)
        with Statements(engine) as statements:
            assert refresh_report_cache(session, [bulletin_id]) == [bulletin_id]
        assert statements.recounted
        assert _cached(session, bulletin_id) == _recounted(session, bulletin_id)


def test_a_refresh_that_lost_the_race_leaves_the_winners_rows_alone(
    session: Session, engine: Engine
) -> None:
    scene = _scene(session)
    bulletin_id = scene.bulletin.id
    assert bulletin_id is not None
    writes = Writes(session, scene)
    writes.append([(0, EventType.click, 0, False, "")])
    refresh_report_cache(session, [bulletin_id])
    writes.append([(0, EventType.click, 1, False, ""), (1, EventType.click, 0, True, "scanner")])
    raced: list[list[int]] = []

    def another_refresh_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # The first refresh is reading the new events (no write lock held yet); another one
        # adds them and stores its rows before the first one stores its own.
        text = statement.lower()
        if not raced and "from event" in text and "order by event.id" in text:
            raced.append([])
            with Session(engine) as other:
                raced[0] = refresh_report_cache(other, [bulletin_id])

    listen(engine, "before_cursor_execute", another_refresh_first)
    try:
        first = refresh_report_cache(session, [bulletin_id])
    finally:
        remove(engine, "before_cursor_execute", another_refresh_first)
    assert raced == [[bulletin_id]]
    assert first == []  # it found the rows moved on, and left them as they were
    assert _cached(session, bulletin_id) == _recounted(session, bulletin_id)


def test_new_deliveries_marked_sent_are_counted_without_recounting_the_events(
    session: Session, engine: Engine
) -> None:
    scene = _scene(session)
    bulletin_id = scene.bulletin.id
    assert bulletin_id is not None
    writes = Writes(session, scene)
    writes.append([(0, EventType.open, 4, False, "")])
    refresh_report_cache(session, [bulletin_id])
    writes.sent(4)
    with Statements(engine) as statements:
        assert refresh_report_cache(session, [bulletin_id]) == [bulletin_id]
    assert not statements.recounted
    sent = {
        (agency, n)
        for agency, n in session.execute(
            select(col(ReportCache.agency), col(ReportCache.events_all)).where(
                col(ReportCache.bulletin_id) == bulletin_id, col(ReportCache.type) == "sent"
            )
        )
    }
    assert sent == {("health", 3), ("police", 2)}
    assert _cached(session, bulletin_id) == _recounted(session, bulletin_id)
