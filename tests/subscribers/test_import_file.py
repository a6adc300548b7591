"""The bulk import as the CLI runs it: checked and staged first, then short write transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, func, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.models import Subscriber, SubscriberStatus
from newsletter.subscribers import ImportFileError, import_file
from tests.conftest import REPO
from tests.factories import make_subscriber
from tests.test_shortwrites import impatient_engine

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
HEADER = "email,name,agency,audiences\n"


@pytest.fixture
def agencies(engine: Engine) -> Engine:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
        session.commit()
    return engine


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "list.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Subscriber)).one()


def other_writer_commits_without_waiting(database_url: str) -> None:
    """Another connection writes with no busy wait at all: it fails if a write lock is held."""
    other = impatient_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text("UPDATE agency SET name = name WHERE slug = 'police'"))
    finally:
        other.dispose()


def test_a_large_file_is_written_in_many_short_transactions_and_all_arrive(
    agencies: Engine, tmp_path: Path
) -> None:
    rows = "".join(f"p{i}@x.org,P {i},police,children\n" for i in range(3000))
    commits: list[int] = []
    event.listen(agencies, "commit", lambda _conn: commits.append(1))
    report = import_file(
        agencies, write(tmp_path, HEADER + rows), now=NOW, consent_source="t", budget=0.001
    )
    assert (report.added, count(agencies)) == (3000, 3000)
    assert len(commits) > 5  # many chunks, not one transaction for the whole file
    with Session(agencies) as session:
        p7 = session.exec(select(Subscriber).where(Subscriber.email == "p7@x.org")).one()
    assert (p7.name, p7.serves_children, p7.serves_adults) == ("P 7", True, False)
    assert p7.consent_at == NOW


def test_the_file_is_checked_without_holding_the_write_lock(
    agencies: Engine, tmp_path: Path, database_url: str
) -> None:
    rows = "".join(f"p{i}@x.org,P,police,\n" for i in range(1200))
    seen: list[int] = []

    def meanwhile(rows_read: int, _bytes: int) -> None:
        other_writer_commits_without_waiting(database_url)
        seen.append(rows_read)

    import_file(
        agencies,
        write(tmp_path, HEADER + rows),
        now=NOW,
        consent_source="t",
        on_progress=meanwhile,
    )
    assert seen[-1] == 1200
    assert count(agencies) == 1200


def test_a_broken_line_after_many_good_rows_changes_nothing(
    agencies: Engine, tmp_path: Path
) -> None:
    good = "".join(f"p{i}@x.org,P,police,children\n" for i in range(2000)).encode()
    content = HEADER.encode() + good + bytes(range(256)) * 40
    with pytest.raises(ImportFileError):
        import_file(agencies, write(tmp_path, content), now=NOW, consent_source="t")
    assert count(agencies) == 0


def test_a_dry_run_writes_nothing_and_counts_what_would_happen(
    agencies: Engine, tmp_path: Path
) -> None:
    report = import_file(
        agencies,
        write(tmp_path, HEADER + "a@x.org,A,police,\nb@x.org,B,health,\n"),
        now=NOW,
        consent_source="t",
        dry_run=True,
    )
    assert (report.added, count(agencies)) == (2, 0)


def test_someone_who_leaves_between_the_check_and_the_write_stays_out(
    agencies: Engine, tmp_path: Path
) -> None:
    with Session(agencies) as session:
        make_subscriber(session, email="jo@x.org", name="Jo", agency="police")
        session.commit()

    def leaves(_rows: int, _bytes: int) -> None:
        with Session(agencies) as session:
            jo = session.exec(select(Subscriber).where(col(Subscriber.email) == "jo@x.org")).one()
            jo.status = SubscriberStatus.unsubscribed
            session.commit()

    import_file(
        agencies,
        write(tmp_path, HEADER + "jo@x.org,Joanna,health,\n"),
        now=NOW,
        consent_source="t",
        on_progress=leaves,
    )
    with Session(agencies) as session:
        jo = session.exec(select(Subscriber).where(col(Subscriber.email) == "jo@x.org")).one()
    assert (jo.name, jo.agency, jo.status) == ("Jo", "police", SubscriberStatus.unsubscribed)
