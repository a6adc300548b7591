"""Property-based: any CSV file gives a clear file error or a correct report, never an
exception, and nothing unsafe is stored."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.models import Subscriber
from newsletter.subscribers import ImportFileError, ImportReport, import_csv
from newsletter.subscribers.addresses import AddressError, normalise_email
from newsletter.textcheck import control_problem
from tests.conftest import REPO

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
CELL = st.one_of(
    st.sampled_from(
        [
            "jo@x.org",
            "JO@X.ORG",
            "Jo <jo@x.org>",
            "=cmd@x.org",
            "'=HYPERLINK(1)",
            "police",
            "health",
            "Police Service",
            "nowhere",
            "children",
            "adults;children",
            "both",
            "Evil\r\nBcc: all@x.org",
            "a\x00b",
            "\ufeff",
            '"',
            "",
            " ",
        ]
    ),
    st.text(max_size=20),
    st.emails().map(str),
)
HEADER = st.sampled_from(
    [
        ["email", "name", "agency", "audiences"],
        ["agency", "email"],
        ["email", "name", "agency", "audiences", "status"],
        ["email;name"],
        ["name"],
    ]
)


def as_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")


@pytest.fixture
def agencies(session: Session) -> Session:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    session.commit()
    return session


def judge(session: Session, data: bytes) -> None:
    refused: ImportFileError | None = None
    try:
        report = import_csv(session, io.BytesIO(data), now=NOW, consent_source="property")
    except ImportFileError as exc:
        refused = exc
    finally:
        stored = session.exec(select(Subscriber)).all()
        session.rollback()
    if refused is not None:
        assert str(refused)  # a plain message, naming the line where there is one
        return
    assert isinstance(report, ImportReport)
    assert report.rows == (
        report.added + report.updated + report.unchanged + report.kept_out + report.rejected
    )
    assert len(stored) == report.added
    for subscriber in stored:
        assert control_problem(subscriber.name) is None
        assert subscriber.email is not None
        try:
            assert normalise_email(subscriber.email) == subscriber.email
        except AddressError:
            pytest.fail(f"an unusable address was stored: {subscriber.email!r}")
    for issue in report.rejections:
        assert issue.line >= 2
        assert issue.reason


@settings(max_examples=60)
@given(HEADER, st.lists(st.lists(CELL, max_size=6), max_size=12))
def test_any_table_imports_correctly_or_is_refused_clearly(
    agencies: Session, header: list[str], rows: list[list[str]]
) -> None:
    judge(agencies, as_csv(header, rows))


@settings(max_examples=60)
@given(st.binary(max_size=400))
def test_any_bytes_import_correctly_or_are_refused_clearly(agencies: Session, data: bytes) -> None:
    judge(agencies, b"email,name,agency,audiences\r\n" + data)
