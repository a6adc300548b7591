"""Run under the code of the release before this round (PYTHONPATH = that tree), never imported.

``python upgrade_fill.py URL fill``: migrate URL to that code's head (0003) and fill it: the
hand-computed July bulletin of tests/reports/fixture.py (agencies, subscribers, a sent
bulletin, deliveries, events), some events rolled up, and the report cache filled.
``python upgrade_fill.py URL dump``: print every row of every table, as JSON.
Both are run with either tree's code, so the dump is the same function before and after.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy import MetaData, select

from newsletter.db import make_engine


def dump(url: str, tables: list[str] | None) -> dict[str, list[list[Any]]]:
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    out: dict[str, list[list[Any]]] = {}
    with engine.connect() as conn:
        for name in sorted(tables or meta.tables):
            if name == "alembic_version" or name not in meta.tables:
                continue  # a table a later migration dropped: the test says whether it mattered
            table = meta.tables[name]
            columns = [c for c in table.columns]
            rows = conn.execute(select(*columns)).all()
            out[name] = sorted([json.dumps(list(r), default=str) for r in rows])  # type: ignore[misc]
            out[name + ":columns"] = [[c.name for c in columns]]
    engine.dispose()
    return out


def fill(url: str) -> None:
    import os
    from pathlib import Path

    from sqlmodel import Session

    from newsletter.agencies import read_agencies, sync_agencies
    from newsletter.db import migrate
    from newsletter.reports.cache import refresh_report_cache
    from newsletter.reports.rollup import roll_up_events
    from tests.reports.fixture import CUT, build_july

    migrate(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        july = build_july(session)
        # The agencies as the operator's agencies.yaml defines them (as `init` loads them).
        folder = Path(os.environ["NEWSLETTER_SUBSCRIBERS_DIR"])
        sync_agencies(session, read_agencies(folder / "agencies.yaml"))
        session.commit()
        roll_up_events(session, before=CUT)  # some events only as aggregates
        session.commit()
        assert july.bulletin.id is not None
        refresh_report_cache(session, [july.bulletin.id])
        session.commit()
    engine.dispose()


if __name__ == "__main__":
    url, what = sys.argv[1], sys.argv[2]
    if what == "fill":
        fill(url)
    else:
        wanted = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
        print(json.dumps(dump(url, wanted)))
