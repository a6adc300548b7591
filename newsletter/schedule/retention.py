"""Retention: raw events older than NEWSLETTER_RETENTION_MONTHS are rolled up, then deleted.

The roll-up itself (aggregates the reports need) belongs to the reports area; the scheduler
decides when (daily) and where the cut-off falls. Running it twice is harmless: the second run
finds nothing older than the cut-off.
"""

from __future__ import annotations

import calendar
import logging
from datetime import datetime

from sqlalchemy import Engine

from newsletter.clock import Clock
from newsletter.db import session_scope
from newsletter.schedule.deps import RollUpFn

log = logging.getLogger(__name__)


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` moved back by whole calendar months (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def apply_retention(engine: Engine, *, months: int, clock: Clock, roll_up: RollUpFn) -> int:
    """Roll up and delete raw events older than ``months`` months; how many were rolled up."""
    before = months_before(clock.now(), months)
    with session_scope(engine) as session:
        count = roll_up(session, before=before)
    log.info("retention: %d raw event(s) before %s rolled up and deleted", count, before)
    return count
