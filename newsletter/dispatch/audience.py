"""Who a bulletin goes to: active, unsuppressed subscribers whose audiences meet the theme's."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlmodel import col

from newsletter.models import Bulletin, Subscriber, SubscriberStatus, Suppression


def audience_select(bulletin: Bulletin) -> Select[int | None, str]:
    """``SELECT subscriber.id, subscriber.agency`` of the bulletin's audience, by id.

    Used as the source of the ledger's ``INSERT ... SELECT`` snapshot, and for counts.
    """
    wants: list[ColumnElement[bool]] = []
    if bulletin.for_children:
        wants.append(col(Subscriber.serves_children).is_(True))
    if bulletin.for_adults:
        wants.append(col(Subscriber.serves_adults).is_(True))
    suppressed = exists().where(col(Suppression.address_hash) == col(Subscriber.address_hash))
    return (
        select(col(Subscriber.id), col(Subscriber.agency))
        .where(
            and_(
                col(Subscriber.status) == SubscriberStatus.active,
                or_(*wants) if wants else false(),
                ~suppressed,
            )
        )
        .order_by(col(Subscriber.id))
    )
