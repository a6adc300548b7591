"""List health per agency: people by status now, active people over the last months, growth.

Statuses now are exact. The history is reconstructed from each person's creation time and
their latest status change: a person counts as active at a moment when they existed then and
are active now or changed status after it. A person whose status changed several times since
then is counted by their latest change only, so the history is an estimate; the current
figures are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlmodel import Session, col
from sqlmodel import select as sm_select

from newsletter.models import Agency, Subscriber, SubscriberStatus

STATUSES = (
    SubscriberStatus.active,
    SubscriberStatus.unsubscribed,
    SubscriberStatus.bounced,
    SubscriberStatus.complained,
    SubscriberStatus.left,
)


@dataclass
class AgencyHealth:
    slug: str
    name: str
    now: dict[str, int] = field(default_factory=dict)  # status -> people
    active_at: list[int] = field(default_factory=list)  # one per moment of ListHealth.moments

    @property
    def growth(self) -> int:
        """Active now less active a month ago (the last moment before now)."""
        if len(self.active_at) < 2:
            return 0
        return self.active_at[-1] - self.active_at[-2]


@dataclass
class ListHealth:
    moments: list[datetime]  # oldest first; the last is now
    agencies: list[AgencyHealth]

    @property
    def total(self) -> AgencyHealth:
        out = AgencyHealth(slug="", name="All agencies")
        out.now = {s.value: sum(a.now.get(s.value, 0) for a in self.agencies) for s in STATUSES}
        out.active_at = [
            sum(a.active_at[i] for a in self.agencies) for i in range(len(self.moments))
        ]
        return out


def month_starts(now: datetime, months: int) -> list[datetime]:
    """The first day of each of the ``months`` months before ``now``'s month... and now."""
    out = []
    year, month = now.year, now.month
    for _ in range(months):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(
            now.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
        )
    return [*reversed(out), now]


def list_health(session: Session, *, now: datetime, months: int = 6) -> ListHealth:
    """Every agency's health (agencies in catalogue order), in two aggregate queries."""
    moments = month_starts(now, months)
    agencies = session.exec(sm_select(Agency).order_by(col(Agency.position))).all()
    by_slug = {a.slug: AgencyHealth(slug=a.slug, name=a.name) for a in agencies}
    for agency, status, count in session.execute(
        select(col(Subscriber.agency), col(Subscriber.status), func.count()).group_by(
            col(Subscriber.agency), col(Subscriber.status)
        )
    ):
        if agency in by_slug:
            by_slug[agency].now[str(status)] = int(count)
    columns = [
        func.sum(
            case(
                (
                    and_(
                        col(Subscriber.created_at) <= moment,
                        or_(
                            col(Subscriber.status) == SubscriberStatus.active.value,
                            col(Subscriber.status_changed_at) > moment,
                        ),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        for moment in moments
    ]
    for agency, *counts in session.execute(
        select(col(Subscriber.agency), *columns)
        .where(col(Subscriber.status) != SubscriberStatus.erased.value)
        .group_by(col(Subscriber.agency))
    ):
        if agency in by_slug:
            by_slug[agency].active_at = [int(c or 0) for c in counts]
    for health in by_slug.values():
        if not health.active_at:
            health.active_at = [0] * len(moments)
    return ListHealth(moments=moments, agencies=list(by_slug.values()))
