"""Short write transactions: staged rows applied a chunk at a time, other writers let in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, event, text
from sqlmodel import Session, func, select

from newsletter.db import make_engine, read_session
from newsletter.models import Agency
from newsletter.shortwrites import Stage, apply_in_chunks


def test_a_stage_gives_back_every_row_in_order_in_chunks_of_the_size_asked() -> None:
    with Stage() as stage:
        stage.extend({"n": i, "at": "x"} for i in range(25))
        sizes = iter([10, 3, 100, 100])
        chunks = list(stage.chunks(lambda: next(sizes)))
        assert len(stage) == 25
    assert [len(c) for c in chunks] == [10, 3, 12]
    assert [row["n"] for chunk in chunks for row in chunk] == list(range(25))


def test_a_stage_decodes_what_json_cannot_carry() -> None:
    moment = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)

    def decode(row: dict[str, object]) -> dict[str, object]:
        return {"at": datetime.fromisoformat(str(row["at"]))}

    with Stage(decode=decode) as stage:
        stage.add({"at": moment})
        assert list(stage.chunks(5)) == [[{"at": moment}]]


def impatient_engine(database_url: str) -> Engine:
    """An engine whose SQLite connections never wait for a lock: a held write lock fails it."""
    other = make_engine(database_url)
    if other.dialect.name == "sqlite":

        @event.listens_for(other, "connect")
        def _no_wait(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA busy_timeout=0")

    return other


def agency_rows(n: int) -> list[dict[str, object]]:
    return [{"slug": f"a{i}", "name": f"Agency {i}"} for i in range(n)]


def insert_agencies(session: Session, rows: list[dict[str, object]]) -> None:
    session.execute(
        text("INSERT INTO agency (slug, name, domains, position) VALUES (:slug, :name, '[]', 0)"),
        rows,
    )


def test_another_writer_commits_between_two_chunks_without_waiting(
    engine: Engine, database_url: str
) -> None:
    other = impatient_engine(database_url)
    between: list[str] = []

    def chunks() -> Iterator[list[dict[str, object]]]:
        rows = agency_rows(30)
        for start in range(0, 30, 10):
            yield rows[start : start + 10]
            # The previous chunk is committed: a writer that will not wait at all gets in.
            with other.begin() as conn:
                conn.execute(text("UPDATE agency SET name = name || '.' WHERE slug = 'a0'"))
            between.append("wrote")

    try:
        done = apply_in_chunks(engine, chunks(), insert_agencies)
    finally:
        other.dispose()
    assert done == 30
    assert between == ["wrote"] * 3
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Agency)).one() == 30
        name = session.execute(text("SELECT name FROM agency WHERE slug = 'a0'")).scalar_one()
    assert name == "Agency 0..."


def test_staged_rows_are_applied_in_chunks_sized_to_the_time_budget(engine: Engine) -> None:
    sizes: list[int] = []

    def apply(session: Session, rows: list[dict[str, object]]) -> None:
        sizes.append(len(rows))
        insert_agencies(session, rows)

    with Stage() as stage:
        stage.extend(agency_rows(2000))
        assert apply_in_chunks(engine, stage, apply, budget=10.0, first_chunk=50) == 2000
    # A generous budget lets the chunks grow (doubling at most), never past the cap.
    assert sizes[:3] == [50, 100, 200]
    assert sum(sizes) == 2000


def test_a_read_session_holds_no_write_lock_while_it_reads(
    engine: Engine, database_url: str
) -> None:
    other = impatient_engine(database_url)
    try:
        with read_session(engine) as session:
            session.execute(text("SELECT count(*) FROM agency")).scalar_one()
            with other.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO agency (slug, name, domains, position) VALUES ('x', 'X', '[]', 0)"
                    )
                )
    finally:
        other.dispose()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Agency)).one() == 1
