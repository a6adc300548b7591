"""A suppression list from another tool: those addresses are never mailed here."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.dispatch.audience import audience_select
from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.subscribers import ImportFileError, import_csv, import_suppressions
from newsletter.tokens import address_hash
from tests.conftest import REPO
from tests.factories import make_bulletin, make_subscriber

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def agencies(session: Session) -> Session:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    session.commit()
    return session


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "suppressed.csv"
    path.write_text(content, encoding="utf-8", newline="")
    return path


def test_imported_opt_outs_stop_active_people_and_keep_new_ones_from_being_imported(
    agencies: Session, tmp_path: Path
) -> None:
    jo = make_subscriber(agencies, email="jo@x.org", agency="police")
    kim = make_subscriber(agencies, email="kim@x.org", agency="police")
    agencies.commit()
    path = write(
        tmp_path,
        "Email Address,Reason,Opted out on\n"
        "JO@x.org,,2025-01-02\n"
        "stranger@y.org,complaint,2025-02-03\n"
        "not an address,,\n"
        "jo@x.org,unsubscribed,again\n",
    )
    report = import_suppressions(agencies, path, now=NOW)
    agencies.commit()
    assert (report.rows, report.added, report.unchanged, report.updated) == (4, 2, 1, 1)
    assert [(i.line, i.reason.split(":")[0]) for i in report.rejections] == [(4, "bad address")]
    agencies.refresh(jo)
    assert jo.status == SubscriberStatus.unsubscribed
    bulletin = make_bulletin(agencies)
    audience = [row[0] for row in agencies.execute(audience_select(bulletin))]
    assert audience == [kim.id]
    listed = dict(agencies.exec(select(Suppression.address_hash, Suppression.reason)).all())
    assert listed[address_hash("stranger@y.org")] == "imported: complained"
    later = tmp_path / "later.csv"
    later.write_text("email,agency\nstranger@y.org,police\n", encoding="utf-8")
    imported = import_csv(agencies, later, now=NOW, consent_source="t")
    assert imported.rejected == 1
    assert (
        agencies.exec(select(Subscriber).where(Subscriber.email == "stranger@y.org")).first()
        is None
    )


def test_a_suppression_file_without_an_email_column_changes_nothing(
    agencies: Session, tmp_path: Path
) -> None:
    with pytest.raises(ImportFileError, match="line 1: the first line must be a header"):
        import_suppressions(agencies, write(tmp_path, "address\njo@x.org\n"), now=NOW)


def test_a_dry_run_of_a_suppression_list_writes_nothing(agencies: Session, tmp_path: Path) -> None:
    make_subscriber(agencies, email="jo@x.org")
    agencies.commit()
    report = import_suppressions(
        agencies, write(tmp_path, "email\njo@x.org\n"), now=NOW, dry_run=True
    )
    agencies.rollback()
    assert (report.added, report.updated) == (1, 1)
    assert agencies.exec(select(Suppression)).all() == []
