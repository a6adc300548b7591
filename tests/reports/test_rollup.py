"""Retention roll-up: the reports give the same numbers before and after it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, func, select

from newsletter.models import Event, EventRollup
from newsletter.reports.bulletin import build_bulletin_report
from newsletter.reports.formats import bulletin_text, training_text
from newsletter.reports.rollup import roll_up_events
from newsletter.reports.training import ALL_KINDS, build_training_report
from tests.reports.fixture import CUT, LATE, build_july


def _everything(session: Session) -> tuple[str, str]:
    training = build_training_report(session, kinds=ALL_KINDS)
    bulletin = build_bulletin_report(session, month="2026-07")
    return (
        training_text(training, fmt="json", min_count=0),
        bulletin_text(bulletin, fmt="json", min_count=0),
    )


def _events(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Event)).one()


def test_a_partial_roll_up_keeps_every_number_and_deletes_only_older_events(
    session: Session,
) -> None:
    build_july(session)
    before = _everything(session)
    total = _events(session)
    rolled = roll_up_events(session, before=CUT)
    session.commit()
    assert rolled > 0
    assert _events(session) == total - rolled
    assert session.exec(select(func.min(col(Event.occurred_at)))).one() >= CUT
    assert _everything(session) == before


def test_rolling_up_twice_and_then_everything_keeps_every_number(session: Session) -> None:
    build_july(session)
    before = _everything(session)
    roll_up_events(session, before=CUT)
    session.commit()
    assert roll_up_events(session, before=CUT) == 0
    roll_up_events(session, before=LATE + timedelta(days=1))
    session.commit()
    assert _events(session) == 0
    assert session.exec(select(func.count()).select_from(EventRollup)).one() > 0
    assert _everything(session) == before


def test_roll_up_refuses_a_naive_cut_off(session: Session) -> None:
    with pytest.raises(ValueError, match="timezone"):
        roll_up_events(session, before=datetime(2026, 1, 1))
