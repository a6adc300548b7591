"""A half-year of made-up engagement, big enough for every chart to have something to show."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from newsletter.models import BulletinStatus, Delivery, DeliveryStatus, Event, EventType
from tests.factories import make_agency, make_bulletin, make_link, make_subscriber, make_variant

AGENCIES = {
    "police": 50,
    "health": 90,
    "education": 70,
    "childrens-social-care": 40,
    "voluntary": 12,
}
COURSES = {
    "icon": "ICON: babies cry, you can cope (e-learning)",
    "neglect": "Child Neglect: recognising and responding",
    "nai": "Bruising in non-mobile babies",
    "cse": "Child exploitation awareness for practitioners",
}
MONTHS = ["2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07"]
THEMES = [
    "Domestic Abuse",
    "Self-Harm and Suicide Prevention",
    "Professional Curiosity",
    "Child Exploitation",
    "Neglect",
    "Non-Accidental Injuries",
]
NAMES = {
    "police": "Police",
    "health": "Health (NHS and private providers)",
    "education": "Education and early years",
    "childrens-social-care": "Children's social care",
    "voluntary": "Voluntary and community sector",
}


def build_demo(session: Session, *, seed: int = 7) -> None:
    rnd = random.Random(seed)
    for i, slug in enumerate(AGENCIES):
        make_agency(session, slug=slug, name=NAMES[slug], position=i)
    people = {
        a: [make_subscriber(session, agency=a) for _ in range(n)] for a, n in AGENCIES.items()
    }
    for m, month in enumerate(MONTHS):
        bulletin = make_bulletin(session, month=month, theme=THEMES[m], status=BulletinStatus.sent)
        variants = {a: make_variant(session, bulletin, agency=a) for a in AGENCIES}
        chosen = rnd.sample(sorted(COURSES), 3)
        links = [
            make_link(session, bulletin, position=p + 1, catalogue_id=c, title=COURSES[c])
            for p, c in enumerate(chosen)
        ]
        sent = datetime.fromisoformat(f"{month}-07T09:00:00+00:00").astimezone(UTC)
        deliveries = [
            Delivery(
                bulletin_id=bulletin.id or 0,
                subscriber_id=sub.id,
                agency=agency,
                variant_id=variants[agency].id or 0,
                status=DeliveryStatus.sent,
                sent_at=sent,
            )
            for agency, subscribers in people.items()
            for sub in subscribers
        ]
        session.add_all(deliveries)
        session.flush()  # one batched INSERT; the ids are needed below
        for d in deliveries:
            appetite = 0.1 + 0.05 * ((sum(map(ord, d.agency)) + m) % 5)
            events = []
            if rnd.random() < 0.55:
                events.append(
                    Event(
                        type=EventType.open,
                        occurred_at=sent + timedelta(hours=2),
                        machine=rnd.random() < 0.3,
                        machine_reason="apple-mpp",
                    )
                )
            for link in links:
                if rnd.random() < appetite:
                    events.append(
                        Event(
                            type=EventType.click,
                            link_id=link.id,
                            occurred_at=sent + timedelta(hours=3),
                        )
                    )
                if rnd.random() < 0.04:
                    events.append(
                        Event(
                            type=EventType.click,
                            link_id=link.id,
                            machine=True,
                            machine_reason="scanner",
                            occurred_at=sent + timedelta(seconds=1),
                        )
                    )
            for e in events:
                e.delivery_id, e.bulletin_id, e.agency = d.id, bulletin.id, d.agency
                if not e.machine:
                    e.machine_reason = None
                else:
                    e.rules_version = "v1"
                session.add(e)
        session.flush()
    session.commit()
