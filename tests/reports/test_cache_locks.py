"""A cold report and a roll-up aggregate outside any write transaction: clicks go on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, text
from sqlmodel import Session, select

from newsletter.models import ReportCache
from newsletter.reports.cache import refresh_report_cache
from tests.reports.fixture import build_july
from tests.test_shortwrites import impatient_engine


def test_while_the_cache_is_computed_another_writer_commits_without_waiting(
    engine: Engine, session: Session, database_url: str
) -> None:
    july = build_july(session)
    session.commit()
    assert july.bulletin.id is not None
    other = impatient_engine(database_url)
    wrote: list[str] = []

    def during_aggregation(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if (
            not wrote
            and "event_rollup" in statement
            and statement.lstrip().upper().startswith("SELECT")
        ):
            # A click's writer in the middle of the aggregation: it must not wait at all.
            with other.begin() as writer:
                writer.execute(text("UPDATE agency SET name = name WHERE slug = 'health'"))
            wrote.append(statement)

    event.listen(engine, "before_cursor_execute", during_aggregation)
    try:
        assert refresh_report_cache(session, [july.bulletin.id]) == [july.bulletin.id]
    finally:
        event.remove(engine, "before_cursor_execute", during_aggregation)
        other.dispose()
    assert wrote, "the aggregation never read the events"
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(ReportCache)).one() > 0


def test_a_roll_up_aggregates_without_the_write_lock(
    engine: Engine, session: Session, database_url: str
) -> None:
    from newsletter.reports.rollup import roll_up_events
    from tests.reports.fixture import CUT

    july = build_july(session)
    session.commit()
    assert july.bulletin.id is not None
    other = impatient_engine(database_url)
    wrote: list[str] = []

    def during_aggregation(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not wrote and "count(distinct" in statement.lower():
            with other.begin() as writer:
                writer.execute(text("UPDATE agency SET name = name WHERE slug = 'health'"))
            wrote.append(statement)

    event.listen(engine, "before_cursor_execute", during_aggregation)
    try:
        assert roll_up_events(session, before=CUT) > 0
    finally:
        event.remove(engine, "before_cursor_execute", during_aggregation)
        other.dispose()
    assert wrote, "the roll-up never aggregated"
    # (tests/reports/test_rollup.py: the figures are the same before and after a roll-up)
