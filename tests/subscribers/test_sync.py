"""Agency sync: the file is the agency's complete list; leavers are marked, guarded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.dispatch.audience import audience_select
from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.reports.public import training_records
from newsletter.reports.training import build_training_report
from newsletter.subscribers import ImportFileError, SyncReport, sync_csv
from tests.conftest import REPO
from tests.factories import make_bulletin, make_subscriber
from tests.reports.fixture import build_july

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
HEADER = "email,name,agency,audiences\n"


@pytest.fixture
def agencies(session: Session) -> Session:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    session.commit()
    return session


def police_staff(session: Session, count: int) -> list[Subscriber]:
    people = [
        make_subscriber(session, email=f"officer{n}@police.example.org", agency="police")
        for n in range(count)
    ]
    session.commit()
    return people


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "police.csv"
    path.write_text(content, encoding="utf-8", newline="")
    return path


def sync(engine: Engine, path: Path, **kwargs: object) -> SyncReport:
    return sync_csv(
        engine,
        path,
        agency="police",
        now=NOW,
        source_name=path.name,
        **kwargs,  # type: ignore[arg-type]
    )


def statuses(session: Session) -> dict[str | None, str]:
    session.expire_all()
    rows = session.exec(select(Subscriber.email, Subscriber.status)).all()
    session.rollback()  # end the read: SQLite's BEGIN IMMEDIATE would hold the write lock
    return {email: str(status) for email, status in rows}


def test_a_complete_list_adds_changes_and_marks_leavers_with_a_status_of_their_own(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    people = police_staff(agencies, 10)
    make_subscriber(agencies, email="nurse@nhs.net", agency="health")
    agencies.commit()
    rows = [f"officer{n}@police.example.org,,," for n in range(1, 10)]
    rows[0] = "officer1@police.example.org,Renamed Officer,,adults"
    path = write(tmp_path, HEADER + "\n".join(rows) + "\nnew@police.example.org,New,police,\n")
    report = sync(engine, path)
    assert (report.added, report.updated, report.unchanged, report.leavers) == (1, 1, 8, 1)
    assert (report.active_before, report.applied, report.ok) == (10, True, True)
    found = statuses(agencies)
    assert found[people[0].email] == "left"
    assert found["new@police.example.org"] == "active"
    assert found["nurse@nhs.net"] == "active"  # another agency's people are not in this list
    renamed = agencies.exec(
        select(Subscriber).where(col(Subscriber.email) == people[1].email)
    ).one()
    assert (renamed.name, renamed.serves_children, renamed.serves_adults) == (
        "Renamed Officer",
        False,
        True,
    )
    new = agencies.exec(
        select(Subscriber).where(col(Subscriber.email) == "new@police.example.org")
    ).one()
    assert (new.source, new.lawful_basis, new.agency) == ("agency-list", "public-task", "police")


def test_the_guard_refuses_a_half_length_file_and_writes_nothing(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 10)
    before = statuses(agencies)
    rows = "\n".join(f"officer{n}@police.example.org,,," for n in range(5))
    path = write(tmp_path, HEADER + rows + "\nnew@police.example.org,,,\n")
    asked: list[SyncReport] = []

    def decide(report: SyncReport) -> bool:
        asked.append(report)
        return True

    report = sync(engine, path, decide=decide)
    assert report.leavers == 5
    assert "5 of the 10 active people in police (50%) are not in the file" in report.refused
    assert (report.applied, asked) == (False, [])
    assert statuses(agencies) == before


def test_a_higher_limit_lets_a_large_departure_through(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 4)
    path = write(tmp_path, HEADER + "officer0@police.example.org,,,\n")
    report = sync(engine, path, max_leavers=80)
    assert (report.refused, report.leavers, report.applied) == ("", 3, True)
    assert sorted(statuses(agencies).values()) == ["active", "left", "left", "left"]


def test_a_rejected_row_is_not_a_leaver_and_is_named_by_line(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 3)
    path = write(
        tmp_path,
        HEADER
        + "officer0@police.example.org,,,\n"
        + "officer1@police.example.org,,,sometimes\n"
        + "officer2@police.example.org,,health,\n"
        + "not-an-address,,,\n",
    )
    report = sync(engine, path)
    assert {(i.line, i.reason.split(":")[0]) for i in report.rejections} == {
        (3, "audiences 'sometimes' not understood"),
        (4, "agency 'health' in the list of 'police'"),
        (5, "bad address"),
    }
    assert (report.leavers, report.applied, report.ok) == (0, True, False)
    assert set(statuses(agencies).values()) == {"active"}


def test_a_leaver_who_reappears_is_active_again_but_an_unsubscribed_person_never(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    make_subscriber(
        agencies, email="back@police.example.org", agency="police", status=SubscriberStatus.left
    )
    make_subscriber(agencies, email="moved@police.example.org", agency="probation")
    make_subscriber(
        agencies,
        email="unsub@police.example.org",
        agency="police",
        status=SubscriberStatus.unsubscribed,
    )
    bounced = make_subscriber(
        agencies, email="bounced@police.example.org", agency="police", status=SubscriberStatus.left
    )
    agencies.add(Suppression(address_hash=bounced.address_hash or "", reason="bounced"))
    agencies.commit()
    path = write(
        tmp_path,
        HEADER
        + "back@police.example.org,,,\nmoved@police.example.org,,,\nunsub@police.example.org,,,\n"
        + "bounced@police.example.org,,,\n",
    )
    report = sync(engine, path)
    assert (report.rejoined, report.updated, report.kept_out) == (1, 1, 2)
    assert statuses(agencies) == {
        "back@police.example.org": "active",
        "moved@police.example.org": "active",
        "unsub@police.example.org": "unsubscribed",
        "bounced@police.example.org": "left",
    }
    moved = agencies.exec(
        select(Subscriber).where(col(Subscriber.email) == "moved@police.example.org")
    ).one()
    assert moved.agency == "police"


def test_a_dry_run_counts_and_writes_nothing_and_a_no_writes_nothing(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 10)
    before = statuses(agencies)
    path = write(
        tmp_path,
        HEADER
        + "\n".join(f"officer{n}@police.example.org,,," for n in range(9))
        + "\nx@y.org,,,\n",
    )
    dry = sync(engine, path, dry_run=True)
    assert (dry.added, dry.leavers, dry.applied) == (1, 1, False)
    declined = sync(engine, path, decide=lambda r: False)
    assert (declined.added, declined.leavers, declined.applied) == (1, 1, False)
    assert statuses(agencies) == before


def test_a_duplicate_in_the_file_is_rejected_once_across_chunks(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 3)
    rows = [f"officer{n}@police.example.org,,," for n in range(3)] + [
        "OFFICER0@police.example.org,,,"
    ]
    report = sync(engine, write(tmp_path, HEADER + "\n".join(rows) + "\n"), chunk_size=2)
    assert [(i.line, i.reason) for i in report.rejections] == [(5, "duplicate of line 2")]
    assert (report.unchanged, report.leavers) == (3, 0)


def test_an_unusable_file_or_agency_changes_nothing(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 2)
    with pytest.raises(ImportFileError, match="line 1"):
        sync(engine, write(tmp_path, "address;name\nx@y.org;X\n"))
    with pytest.raises(ImportFileError, match="not an agency"):
        sync_csv(
            engine,
            write(tmp_path, HEADER),
            agency="nobody",
            now=NOW,
            source_name="x.csv",
        )
    assert set(statuses(agencies).values()) == {"active"}


def test_leavers_get_nothing_in_the_next_send_and_still_count_in_past_reports(
    session: Session, engine: Engine, tmp_path: Path
) -> None:
    july = build_july(session)
    session.commit()
    before = training_records(build_training_report(session), 0)
    police = session.exec(
        select(Subscriber).where(col(Subscriber.agency) == "police").order_by(col(Subscriber.id))
    ).all()
    staying, leaving = police[0].id, police[1].id
    path = write(tmp_path, HEADER + f"{police[0].email},,,\n")
    session.rollback()
    report = sync(engine, path, max_leavers=100)
    assert report.leavers == 2
    session.expire_all()
    assert training_records(build_training_report(session), 0) == before
    august = make_bulletin(session, month="2026-08", for_children=True, for_adults=True)
    audience = {agency for _id, agency in session.execute(audience_select(august))}
    ids = {row_id for row_id, _agency in session.execute(audience_select(august))}
    assert staying in ids
    assert leaving not in ids
    assert audience == {"health", "police"}
    assert july.bulletin.id is not None


def test_a_rejected_row_repeating_an_earlier_address_in_a_later_chunk_is_named_once(
    agencies: Session, engine: Engine, tmp_path: Path
) -> None:
    police_staff(agencies, 2)
    path = write(
        tmp_path,
        HEADER
        + "officer0@police.example.org,,,\n"
        + "officer1@police.example.org,,,\n"
        + "officer0@police.example.org,,,sometimes\n",
    )
    report = sync(engine, path, chunk_size=2)
    assert [(i.line, i.reason.split(" not")[0]) for i in report.rejections] == [
        (4, "audiences 'sometimes'")
    ]
    assert (report.unchanged, report.leavers, report.applied) == (2, 0, True)
