"""A bulletin's headline figures (the staff dashboard's "last bulletin"), read through the
report cache: recipients, delivered, unique opens and clicks, course clicks, bounces and
complaints."""

from __future__ import annotations

from sqlmodel import Session

from newsletter.models import EventType, LinkKind
from newsletter.reports import bulletin_headline
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_event,
    make_link,
    make_subscriber,
    make_variant,
)


def test_the_headline_counts_people_once_and_course_clicks_per_course(session: Session) -> None:
    bulletin = make_bulletin(session, status="sent")
    variants = {a: make_variant(session, bulletin, agency=a) for a in ("health", "police")}
    course_a = make_link(session, bulletin, kind=LinkKind.course)
    course_b = make_link(session, bulletin, kind=LinkKind.course)
    briefing = make_link(session, bulletin, kind=LinkKind.briefing, catalogue_id="brief-1")
    people = [make_subscriber(session, agency=("health", "police")[n % 2]) for n in range(6)]
    deliveries = [make_delivery(session, bulletin, p, variants[p.agency]) for p in people]
    first, second, third, fourth, fifth, _sixth = deliveries
    make_event(session, first, type=EventType.open, link_id=None)
    make_event(session, first, type=EventType.open, link_id=None)  # one person, opened twice
    make_event(session, second, type=EventType.open, link_id=None)
    make_event(session, first, type=EventType.click, link_id=course_a.id)
    make_event(session, first, type=EventType.click, link_id=course_b.id)  # two courses
    make_event(session, second, type=EventType.click, link_id=course_a.id)
    make_event(session, third, type=EventType.click, link_id=briefing.id)  # not a course
    make_event(session, fourth, type=EventType.bounce, link_id=None)
    make_event(session, fifth, type=EventType.complaint, link_id=None)
    session.commit()

    headline = bulletin_headline(session, bulletin)

    assert headline.month == bulletin.month
    assert headline.reach.sent == 6
    assert headline.reach.bounced == 1
    assert headline.reach.delivered == 5
    assert headline.reach.opens.unique_all == 2
    assert headline.reach.opens.events_all == 3
    assert headline.reach.clickers.unique_all == 3
    assert headline.course_clicks.unique_all == 3  # first: two courses, second: one
    assert headline.reach.complaints.unique_all == 1


def test_a_complaint_recorded_after_the_figures_were_cached_is_counted(
    session: Session,
) -> None:
    bulletin = make_bulletin(session, status="sent")
    variant = make_variant(session, bulletin, agency="health")
    delivery = make_delivery(session, bulletin, make_subscriber(session), variant)
    session.commit()
    assert bulletin_headline(session, bulletin).reach.complaints.unique_all == 0

    make_event(session, delivery, type=EventType.complaint, link_id=None)
    session.commit()

    assert bulletin_headline(session, bulletin).reach.complaints.unique_all == 1
