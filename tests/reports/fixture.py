"""A hand-computed bulletin: every expected number in the report tests is worked out here.

July 2026, agencies health (6 sent, 1 failed) and police (3 sent).
Links: 1 ICON course (Training), 2 ICON again (Further reading), 3 Neglect course (police
only), 4 a briefing, 5 a feedback link (Training).

health: h1 open, clicks ICON via link 1 twice and link 2 once (all human)
        h2 clicks link 1, flagged machine (scanner)        -> raw only
        h3 clicks link 1 as machine, then again as a human  -> human and raw
        h4 opens as machine (Apple MPP)                     -> raw open only
        h5 bounces                                          -> not delivered
        h6 erased afterwards (subscriber NULL): opens, clicks link 2 -> still counted
        one anonymous click on link 1 (agency tracking mode, no delivery)
police: p1 clicks the Neglect course and says "yes" on the feedback link; p2 unsubscribes.

Expected, ICON x health: delivered 5 (6 sent - 1 bounce), opens 2 human / 3 raw,
clickers 4 human (h1, h3, h6, anonymous) / 5 raw (+ h2), clicks 6 human / 8 raw, CTR 80% / 100%.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from newsletter.eventlog import note_changed
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    DeliveryStatus,
    Event,
    EventType,
    LinkKind,
)
from tests.factories import (
    make_agency,
    make_bulletin,
    make_delivery,
    make_event,
    make_link,
    make_subscriber,
    make_variant,
)

SENT = datetime(2026, 7, 7, 9, 0, tzinfo=UTC)
EARLY = SENT + timedelta(hours=1)  # rolled up in the tests that cut at CUT
LATE = SENT + timedelta(days=10)
CUT = SENT + timedelta(days=5)


@dataclass
class July:
    bulletin: Bulletin
    link_ids: dict[str, int]


def build_july(session: Session) -> July:
    make_agency(session, slug="health", name="Health", position=1)
    make_agency(session, slug="police", name="Police", position=2)
    bulletin = make_bulletin(
        session, month="2026-07", theme="Non-Accidental Injuries", status=BulletinStatus.sent
    )
    health_variant = make_variant(session, bulletin, agency="health")
    police_variant = make_variant(session, bulletin, agency="police")
    icon1 = make_link(
        session,
        bulletin,
        position=1,
        section="Training",
        catalogue_id="icon",
        title="ICON: babies cry, you can cope",
    )
    icon2 = make_link(
        session,
        bulletin,
        position=2,
        section="Further reading",
        catalogue_id="icon",
        title="ICON: babies cry, you can cope",
    )
    neglect = make_link(
        session,
        bulletin,
        position=3,
        section="Training",
        catalogue_id="neglect",
        title="Child Neglect",
        agencies=["police"],
    )
    make_link(
        session,
        bulletin,
        position=4,
        section="Briefings",
        kind=LinkKind.briefing,
        catalogue_id="7mb-nai",
        title="7-minute briefing",
    )
    feedback = make_link(
        session,
        bulletin,
        position=5,
        section="Training",
        kind=LinkKind.feedback,
        catalogue_id=None,
        title="Was this useful?",
        url="https://example.org/feedback",
    )

    def delivery(agency: str, **kw: object):
        variant = health_variant if agency == "health" else police_variant
        subscriber = make_subscriber(session, agency=agency)
        return make_delivery(session, bulletin, subscriber, variant, sent_at=SENT, **kw)

    h = [delivery("health") for _ in range(6)]
    delivery("health", status=DeliveryStatus.failed)
    p = [delivery("police") for _ in range(3)]

    def ev(d, kind: EventType, *, link=None, at=EARLY, machine=None):
        extra = {}
        if machine:
            extra = {"machine": True, "machine_reason": machine, "rules_version": "v1"}
        make_event(
            session, d, type=kind, link_id=link.id if link else None, occurred_at=at, **extra
        )

    ev(h[0], EventType.open)
    ev(h[0], EventType.click, link=icon1)
    ev(h[0], EventType.click, link=icon1, at=LATE)
    ev(h[0], EventType.click, link=icon2, at=LATE)
    ev(h[1], EventType.click, link=icon1, machine="scanner")
    ev(h[2], EventType.click, link=icon1, machine="scanner")
    ev(h[2], EventType.click, link=icon1, at=LATE)
    ev(h[3], EventType.open, machine="apple-mpp")
    ev(h[4], EventType.bounce)
    ev(h[5], EventType.open, at=LATE)
    ev(h[5], EventType.click, link=icon2)
    session.add(
        Event(
            bulletin_id=bulletin.id,
            agency="health",
            link_id=icon1.id,
            type=EventType.click,
            occurred_at=LATE,
        )
    )
    note_changed(session, [bulletin.id])
    ev(p[0], EventType.click, link=neglect, at=LATE)
    ev(p[0], EventType.feedback_yes, link=feedback)
    ev(p[1], EventType.unsubscribe)
    session.flush()
    # Erase h6's subscriber: the delivery stays, anonymous, with its agency snapshot.
    h[5].subscriber_id = None
    session.add(h[5])
    session.commit()
    assert bulletin.id is not None
    ids = {"icon1": icon1.id, "icon2": icon2.id, "neglect": neglect.id, "feedback": feedback.id}
    return July(bulletin, {k: v for k, v in ids.items() if v is not None})


JUNE_SENT = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)


def build_june(session: Session) -> Bulletin:
    """June 2026 ("Neglect"), the month before July, for the board report's comparisons.

    One course, "neglect" (Child Neglect), shown to both agencies; 10 health and 10 police
    people reached, nothing bounced. Health: 6 open, 5 click the course. Police: 4 open,
    2 click it, plus one scanner click (machine: raw only). Call after build_july (agencies).

    Expected: reached 20, opened 10, course clicks 7 (raw 8), 35.0 per 100 reached;
    Neglect x health 5 of 10 (50.0%), x police 2 of 10 (fewer than 5 people: rate hidden).
    """
    bulletin = make_bulletin(session, month="2026-06", theme="Neglect", status=BulletinStatus.sent)
    variants = {a: make_variant(session, bulletin, agency=a) for a in ("health", "police")}
    course = make_link(
        session,
        bulletin,
        position=1,
        section="Training",
        catalogue_id="neglect",
        title="Child Neglect",
    )
    at = JUNE_SENT + timedelta(hours=2)
    for agency, opens, clicks in (("health", 6, 5), ("police", 4, 2)):
        for i in range(10):
            subscriber = make_subscriber(session, agency=agency)
            d = make_delivery(session, bulletin, subscriber, variants[agency], sent_at=JUNE_SENT)
            if i < opens:
                make_event(session, d, type=EventType.open, occurred_at=at)
            if i < clicks:
                make_event(session, d, type=EventType.click, link_id=course.id, occurred_at=at)
            if agency == "police" and i == 9:
                make_event(
                    session,
                    d,
                    type=EventType.click,
                    link_id=course.id,
                    occurred_at=JUNE_SENT,
                    machine=True,
                    machine_reason="scanner-agent",
                    rules_version="v1",
                )
    session.commit()
    return bulletin
