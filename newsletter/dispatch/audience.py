"""Who a bulletin goes to: active, unsuppressed subscribers whose audiences meet the theme's.

:func:`may_be_sent_to` is the one statement of "may this person be sent to"; the audience
snapshot, the page reader and the claim-time re-check of the ledger all use it.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlmodel import col

from newsletter.models import Bulletin, Subscriber, SubscriberStatus, Suppression


def may_be_sent_to() -> ColumnElement[bool]:
    """True for a ``subscriber`` row who may be mailed now: active, and their address is not
    on the suppression list (bounced, complained, erased...). NULL for no subscriber (an
    outer join that found none), which SQL and Python both treat as false."""
    suppressed = exists().where(col(Suppression.address_hash) == col(Subscriber.address_hash))
    return and_(col(Subscriber.status) == SubscriberStatus.active.value, ~suppressed)


def audience_select(bulletin: Bulletin) -> Select[int | None, str]:
    """``SELECT subscriber.id, subscriber.agency`` of the bulletin's audience, by id.

    Used as the source of the ledger's ``INSERT ... SELECT`` snapshot, and for counts.
    """
    wants: list[ColumnElement[bool]] = []
    if bulletin.for_children:
        wants.append(col(Subscriber.serves_children).is_(True))
    if bulletin.for_adults:
        wants.append(col(Subscriber.serves_adults).is_(True))
    return (
        select(col(Subscriber.id), col(Subscriber.agency))
        .where(and_(may_be_sent_to(), or_(*wants) if wants else false()))
        .order_by(col(Subscriber.id))
    )
