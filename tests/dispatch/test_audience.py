"""The audience of a bulletin."""

from __future__ import annotations

from sqlmodel import Session

from newsletter.dispatch.audience import audience_select
from newsletter.models import SubscriberStatus, Suppression
from tests.factories import make_bulletin, make_subscriber


def test_the_audience_is_active_unsuppressed_subscribers_whose_audiences_meet_the_themes(
    session: Session,
) -> None:
    children = make_subscriber(session, serves_children=True, serves_adults=False)
    both = make_subscriber(session, agency="police", serves_children=True, serves_adults=True)
    adults = make_subscriber(session, serves_children=False, serves_adults=True)
    make_subscriber(session, status=SubscriberStatus.unsubscribed)
    suppressed = make_subscriber(session)
    session.add(Suppression(address_hash=suppressed.address_hash or "", reason="bounced"))
    session.flush()

    for_children = make_bulletin(session, for_children=True, for_adults=False)
    for_adults = make_bulletin(session, for_children=False, for_adults=True)

    assert session.execute(audience_select(for_children)).all() == [
        (children.id, "health"),
        (both.id, "police"),
    ]
    assert [row.id for row in session.execute(audience_select(for_adults))] == [both.id, adults.id]
