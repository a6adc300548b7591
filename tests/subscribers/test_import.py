"""The CSV import: every bad input of issue 3, idempotence, and leavers staying out."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.models import Subscriber, SubscriberStatus, Suppression
from newsletter.subscribers import ImportFileError, ImportReport, import_csv, suppress
from newsletter.tokens import address_hash
from tests.conftest import REPO
from tests.factories import make_subscriber

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
HEADER = "email,name,agency,audiences\n"


@pytest.fixture
def agencies(session: Session) -> Session:
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    session.commit()
    return session


def write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def run(session: Session, path: Path, **kwargs: object) -> ImportReport:
    report = import_csv(session, path, now=NOW, consent_source="test import", **kwargs)  # type: ignore[arg-type]
    session.commit()
    return report


def count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Subscriber)).one()


def emails(session: Session) -> list[str | None]:
    return list(session.exec(select(Subscriber.email).order_by(col(Subscriber.email))).all())


def reasons(report: ImportReport) -> dict[int, str]:
    return {issue.line: issue.reason for issue in report.rejections}


def test_a_clean_file_adds_everyone_with_consent_and_address_hash(
    agencies: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER
        + "jo@police.example.org,Jo Bloggs,police,children\n"
        + "sam@nhs.net,Sam Patel,health,children;adults\n",
    )
    report = run(agencies, path)
    assert (report.rows, report.added, report.rejected) == (2, 2, 0)
    jo = agencies.exec(select(Subscriber).where(Subscriber.email == "jo@police.example.org")).one()
    assert (jo.name, jo.agency, jo.audiences) == ("Jo Bloggs", "police", ["children"])
    assert jo.address_hash == address_hash("jo@police.example.org")
    assert jo.consent_source == "test import"
    assert jo.consent_at is not None
    assert jo.consent_at.replace(tzinfo=UTC) == NOW
    assert jo.status == SubscriberStatus.active
    assert len(jo.token) >= 32


def test_importing_the_same_file_twice_changes_nothing(agencies: Session, tmp_path: Path) -> None:
    path = write(tmp_path, (REPO / "subscribers" / "sample.csv").read_text(encoding="utf-8"))
    first = run(agencies, path, chunk_size=40)
    before = agencies.exec(
        select(Subscriber.email, Subscriber.token, Subscriber.updated_at).order_by(
            col(Subscriber.id)
        )
    ).all()
    second = run(agencies, path, chunk_size=40)
    after = agencies.exec(
        select(Subscriber.email, Subscriber.token, Subscriber.updated_at).order_by(
            col(Subscriber.id)
        )
    ).all()
    assert first.added == 150
    assert first.ok
    assert (second.added, second.updated, second.unchanged) == (0, 0, 150)
    assert before == after


def test_a_changed_row_updates_name_agency_and_audiences_only(
    agencies: Session, tmp_path: Path
) -> None:
    run(agencies, write(tmp_path, HEADER + "jo@x.org,Jo,police,children\n"))
    token = agencies.exec(select(Subscriber.token)).one()
    report = run(agencies, write(tmp_path, HEADER + "JO@X.ORG,Jo Bloggs,health,adults\n"))
    assert (report.added, report.updated) == (0, 1)
    agencies.expire_all()
    jo = agencies.exec(select(Subscriber)).one()
    assert (jo.name, jo.agency, jo.audiences, jo.token) == (
        "Jo Bloggs",
        "health",
        ["adults"],
        token,
    )


def test_blank_name_and_audiences_keep_what_is_held(agencies: Session, tmp_path: Path) -> None:
    run(agencies, write(tmp_path, HEADER + "jo@x.org,Jo,police,adults\n"))
    report = run(agencies, write(tmp_path, HEADER + "jo@x.org,,police,\n"))
    assert report.unchanged == 1
    jo = agencies.exec(select(Subscriber)).one()
    assert (jo.name, jo.audiences) == ("Jo", ["adults"])


def test_a_new_person_with_blank_audiences_gets_both(agencies: Session, tmp_path: Path) -> None:
    run(agencies, write(tmp_path, HEADER + "jo@x.org,Jo,police,\n"))
    assert agencies.exec(select(Subscriber)).one().audiences == ["children", "adults"]


def test_every_bad_row_is_rejected_with_its_line_and_the_rest_imported(
    agencies: Session, tmp_path: Path
) -> None:
    content = (
        HEADER
        + "ok1@x.org,One,police,children\n"  # line 2
        + "not-an-address,Two,police,children\n"  # 3
        + "ok3@x.org,Three,fire-brigade,children\n"  # 4
        + "OK1@X.org,One again,police,children\n"  # 5
        + "ok5@x.org,Five,police,kids\n"  # 6
        + f"ok6@x.org,{'N' * 201},police,children\n"  # 7
        + "ok7@x.org,Seven,police,children,surprise\n"  # 8
        + "ok8@gmail.example,Eight,,children\n"  # 9: no agency, no default, no domain hint
        + "ok9@x.org,Nine,health,adults\n"  # 10
    )
    report = run(agencies, write(tmp_path, content))
    assert reasons(report) == {
        3: reasons(report)[3],
        4: "unknown agency 'fire-brigade'",
        5: "duplicate of line 2",
        6: "audiences 'kids' not understood: use children, adults or both",
        7: "name longer than 200 characters",
        8: "5 columns, expected 4",
        9: "no agency: fill the agency column or pass --agency",
    }
    assert reasons(report)[3].startswith("bad address: ")
    assert (report.rows, report.added, report.rejected, report.ok) == (9, 2, 7, False)
    assert emails(agencies) == ["ok1@x.org", "ok9@x.org"]


def test_duplicates_are_found_across_chunks(agencies: Session, tmp_path: Path) -> None:
    rows = [f"p{i}@x.org,P{i},police,children\n" for i in range(30)]
    rows.append("P3@X.ORG,again,police,children\n")  # line 32, first seen on line 5
    report = run(agencies, write(tmp_path, HEADER + "".join(rows)), chunk_size=7)
    assert reasons(report) == {32: "duplicate of line 5"}
    assert count(agencies) == 30


def test_a_display_name_form_fills_an_empty_name(agencies: Session, tmp_path: Path) -> None:
    content = HEADER + '"Jo Bloggs <jo@x.org>",,police,children\n"Sam <sam@x.org>",Samuel,police,\n'
    run(agencies, write(tmp_path, content))
    names = dict(agencies.exec(select(Subscriber.email, Subscriber.name)).all())
    assert names == {"jo@x.org": "Jo Bloggs", "sam@x.org": "Samuel"}


def test_a_suppressed_address_is_rejected_in_any_spelling(
    agencies: Session, tmp_path: Path
) -> None:
    suppress(agencies, address_hash("gone@x.org"), reason="bounced")
    agencies.commit()
    report = run(agencies, write(tmp_path, HEADER + "Gone@X.org,Gone,police,children\n"))
    assert reasons(report) == {2: "suppressed address (bounced)"}
    assert count(agencies) == 0


@pytest.mark.parametrize(
    "status",
    [SubscriberStatus.unsubscribed, SubscriberStatus.bounced, SubscriberStatus.complained],
)
def test_an_import_never_resubscribes_someone_who_left(
    agencies: Session, tmp_path: Path, status: SubscriberStatus
) -> None:
    make_subscriber(agencies, email="left@x.org", agency="police", name="Left", status=status)
    agencies.commit()
    report = run(agencies, write(tmp_path, HEADER + "left@x.org,New Name,health,adults\n"))
    assert (report.kept_out, report.added, report.updated, report.ok) == (1, 0, 0, True)
    assert report.notices[0].reason == f"{status}: not re-subscribed"
    agencies.expire_all()
    left = agencies.exec(select(Subscriber)).one()
    assert (left.status, left.name, left.agency) == (status, "Left", "police")


def test_an_erased_person_is_not_imported_again(agencies: Session, tmp_path: Path) -> None:
    from newsletter.subscribers import erase, find_by_email

    make_subscriber(agencies, email="erased@x.org", agency="police")
    erase(agencies, find_by_email(agencies, "erased@x.org"), now=NOW)  # type: ignore[arg-type]
    agencies.commit()
    report = run(agencies, write(tmp_path, HEADER + "erased@x.org,Back,police,children\n"))
    assert reasons(report) == {2: "suppressed address (erased)"}
    assert agencies.exec(select(Subscriber.email)).all() == [None]


def test_the_default_agency_fills_empty_agency_cells_only(
    agencies: Session, tmp_path: Path
) -> None:
    content = HEADER + "a@x.org,A,,children\nb@x.org,B,health,children\n"
    run(agencies, write(tmp_path, content), default_agency="probation")
    got = dict(agencies.exec(select(Subscriber.email, Subscriber.agency)).all())
    assert got == {"a@x.org": "probation", "b@x.org": "health"}


def test_an_unknown_default_agency_is_a_file_level_error(agencies: Session, tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="--agency 'nope' is not an agency"):
        run(agencies, write(tmp_path, HEADER), default_agency="nope")


def test_an_empty_agency_is_taken_from_the_domain_when_only_one_agency_claims_it(
    agencies: Session, tmp_path: Path
) -> None:
    run(agencies, write(tmp_path, HEADER + "a@gp.nhs.net,A,,children\n"))
    assert agencies.exec(select(Subscriber.agency)).one() == "health"


def test_an_agency_name_is_accepted_and_a_domain_mismatch_is_noticed(
    agencies: Session, tmp_path: Path
) -> None:
    report = run(agencies, write(tmp_path, HEADER + "a@nhs.net,A,Police,children\n"))
    assert report.ok
    assert agencies.exec(select(Subscriber.agency)).one() == "police"
    assert report.notices[0].reason == "check the agency: nhs.net is typical of health, not police"


def test_a_utf8_bom_and_spreadsheet_quoting_are_read(agencies: Session, tmp_path: Path) -> None:
    content = (
        "\ufeffemail,name,agency,audiences\r\n"
        '"zoe@x.org","O\'Brien, ""Zoë""",police,"children;adults"\r\n'
        '"multi@x.org","Line one\nline two",police,children\r\n'
        "\r\n"
        ",,,\r\n"
        "bad,,police,children\r\n"
    )
    report = run(agencies, write(tmp_path, content.encode("utf-8")))
    names = dict(agencies.exec(select(Subscriber.email, Subscriber.name)).all())
    assert names["zoe@x.org"] == 'O\'Brien, "Zoë"'
    # A quoted field spanning two lines is read (the next row starts on line 5; blank lines are
    # skipped), but a line break has no place in a name: that row is refused, named by line.
    assert "multi@x.org" not in names
    assert list(reasons(report)) == [3, 7]
    assert reasons(report)[3] == "name holds a line break; it must be one line of plain text"


def test_columns_in_another_order_with_a_status_column_keep_an_opted_out_person_out(
    agencies: Session, tmp_path: Path
) -> None:
    content = "Agency,EMAIL,status,audiences,name\npolice,jo@x.org,unsubscribed,adults,Jo\n"
    report = run(agencies, write(tmp_path, content))
    jo = agencies.exec(select(Subscriber)).one()
    assert report.added == 1
    assert (jo.email, jo.agency, jo.status) == (
        "jo@x.org",
        "police",
        SubscriberStatus.unsubscribed,
    )


def test_a_dry_run_reports_but_writes_nothing(agencies: Session, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "a@x.org,A,police,children\nbad,B,police,children\n")
    report = import_csv(agencies, path, now=NOW, consent_source="t", dry_run=True)
    agencies.rollback()
    assert (report.dry_run, report.added, report.rejected) == (True, 1, 1)
    assert count(agencies) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\n\n", "the file is empty"),
        (b"jo@x.org,Jo,police,children\n", "line 1: the first line must be the header"),
        (b"mail,name\njo@x.org,Jo\n", "line 1: the first line must be the header"),
        (b"email,name,agency,audiences,team\n", "unknown column(s) team"),
        (b"email,email,agency\n", "repeated column(s) email"),
        (
            b"email;name;agency;audiences\njo@x.org;Jo;police;children\n",
            "separated by semicolons",
        ),
        (b"email\tname\tagency\taudiences\n", "separated by tabs"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
        (b"\xff\xfee\x00m\x00", "UTF-16"),
        (HEADER.encode() + b"jo@x.org,J\xf6rg,police,children\n", "line 3: not UTF-8"),
        (HEADER.encode() + b'jo@x.org,"Jo"x,police,children\n', "line 3: not readable as CSV"),
        (
            HEADER.encode() + b"jo@x.org,Jo\x01\x02,police,children\n",
            "line 3: the file holds binary",
        ),
    ],
)
def test_an_unreadable_file_is_a_clear_error_and_stores_nothing(
    agencies: Session, tmp_path: Path, content: bytes, message: str
) -> None:
    # Valid rows before the bad part must not be stored either.
    if content.startswith(HEADER.encode()):
        content = content.replace(HEADER.encode(), HEADER.encode() + b"first@x.org,F,police,\n")
    with pytest.raises(ImportFileError) as error:
        import_csv(agencies, write(tmp_path, content), now=NOW, consent_source="t", chunk_size=1)
    agencies.rollback()
    assert message in str(error.value)
    assert count(agencies) == 0


def test_binary_garbage_after_many_good_rows_stores_nothing(
    agencies: Session, tmp_path: Path
) -> None:
    good = "".join(f"p{i}@x.org,P,police,children\n" for i in range(2000)).encode()
    content = HEADER.encode() + good + bytes(range(256)) * 40
    with pytest.raises(ImportFileError):
        import_csv(agencies, write(tmp_path, content), now=NOW, consent_source="t", chunk_size=100)
    agencies.rollback()
    assert count(agencies) == 0


def test_a_very_long_field_is_rejected_without_breaking_the_import(
    agencies: Session, tmp_path: Path
) -> None:
    content = HEADER + f"{'a' * 5000}@x.org,A,police,\n" + f"b@x.org,{'B' * 100_000},police,\n"
    content += "c@x.org,C,police,\n"
    report = run(agencies, write(tmp_path, content))
    assert reasons(report) == {
        2: "email longer than 400 characters",
        3: "name longer than 200 characters",
    }
    assert emails(agencies) == ["c@x.org"]
    assert len(report.rejections[0].value) <= 80


def test_a_large_file_imports_in_chunks_with_progress(agencies: Session, tmp_path: Path) -> None:
    rows = "".join(f"p{i}@x.org,P {i},police,children\n" for i in range(5000))
    calls: list[tuple[int, int]] = []
    report = run(
        agencies,
        write(tmp_path, HEADER + rows),
        chunk_size=500,
        on_progress=lambda r, b: calls.append((r, b)),
    )
    assert (report.added, count(agencies)) == (5000, 5000)
    assert len(calls) == 11
    assert calls[-1][0] == 5000
    assert [b for _, b in calls] == sorted(b for _, b in calls)


def test_suppression_rows_are_untouched_by_an_import(agencies: Session, tmp_path: Path) -> None:
    run(agencies, write(tmp_path, HEADER + "a@x.org,A,police,\n"))
    assert agencies.exec(select(func.count()).select_from(Suppression)).one() == 0


def test_a_line_without_end_is_refused_while_reading_with_bounded_memory(
    agencies: Session, tmp_path: Path
) -> None:
    path = tmp_path / "endless.csv"
    with path.open("wb") as out:
        out.write(HEADER.encode() + b"jo@x.org,")
        for _ in range(40):  # 40 MB on one line
            out.write(b"J" * 1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ImportFileError) as caught:
            run(agencies, path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    agencies.rollback()
    assert str(caught.value).startswith("line 2: longer than 1,000,000 bytes")
    assert peak < 8_000_000
    assert count(agencies) == 0


def test_an_unclosed_quote_is_blamed_on_its_line_instead_of_swallowing_the_file(
    agencies: Session, tmp_path: Path
) -> None:
    rows = "".join(f"p{i}@x.org,P {i},police,children\n" for i in range(100))
    path = write(tmp_path, HEADER + "a@x.org,A,police,\n" + 'b@x.org,"Bo,police,\n' + rows)
    with pytest.raises(ImportFileError) as caught:
        run(agencies, path)
    agencies.rollback()
    assert str(caught.value).startswith("line 3: a quoted field runs on for more than 20 lines")
    assert count(agencies) == 0


def test_a_file_over_the_size_limit_is_refused_and_stores_nothing(
    agencies: Session, tmp_path: Path
) -> None:
    rows = "".join(f"p{i}@x.org,P {i},police,children\n" for i in range(2000))
    path = write(tmp_path, HEADER + rows)
    with pytest.raises(ImportFileError) as caught:
        run(agencies, path, max_bytes=10_000, chunk_size=50)
    agencies.rollback()
    assert str(caught.value) == "the file is larger than 0.01 MB; split it into smaller files"
    assert count(agencies) == 0


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ('"Evil\r\nBcc: all@x.org"', "name holds a line break"),
        ('"Tab\tbed"', "name holds a tab"),
        ('"Bidi \u202egnp.exe"', "name holds a control character U+202E"),
    ],
    ids=["crlf", "tab", "bidi"],
)
def test_a_name_with_control_characters_is_rejected_with_its_line(
    agencies: Session, tmp_path: Path, cell: str, says: str
) -> None:
    path = write(tmp_path, HEADER + "a@x.org,A,police,\n" + f"b@x.org,{cell},police,\n")
    report = run(agencies, path)
    assert list(reasons(report)) == [3]
    assert reasons(report)[3].startswith(says)
    assert emails(agencies) == ["a@x.org"]


def test_a_status_column_brings_opt_outs_over_from_another_tool(
    agencies: Session, tmp_path: Path
) -> None:
    make_subscriber(agencies, email="active@x.org", agency="police")
    agencies.commit()
    path = write(
        tmp_path,
        "email,agency,status\n"
        "active@x.org,police,complained\n"
        "new.bounce@x.org,police,bounced\n"
        "new.unsub@x.org,police,Unsubscribed\n"
        "plain@x.org,police,\n"
        "odd@x.org,police,sleeping\n",
    )
    report = run(agencies, path)
    statuses = dict(agencies.exec(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {
        "active@x.org": SubscriberStatus.complained,
        "new.bounce@x.org": SubscriberStatus.bounced,
        "new.unsub@x.org": SubscriberStatus.unsubscribed,
        "plain@x.org": SubscriberStatus.active,
    }
    assert reasons(report) == {
        6: "status 'sleeping' not understood: use unsubscribed, bounced, complained or "
        "leave it blank"
    }
    suppressed = {s.address_hash: s.reason for s in agencies.exec(select(Suppression)).all()}
    assert suppressed == {
        address_hash("active@x.org"): "complained",
        address_hash("new.bounce@x.org"): "bounced",
    }
    assert (report.added, report.updated) == (3, 1)


def test_a_status_column_never_brings_anyone_back(agencies: Session, tmp_path: Path) -> None:
    make_subscriber(agencies, email="gone@x.org", status=SubscriberStatus.unsubscribed)
    agencies.commit()
    report = run(agencies, write(tmp_path, "email,agency,status\ngone@x.org,police,active\n"))
    gone = agencies.exec(select(Subscriber)).one()
    assert gone.status == SubscriberStatus.unsubscribed
    assert report.kept_out == 1


def test_an_export_with_every_status_imports_again_unchanged(
    agencies: Session, tmp_path: Path
) -> None:
    from newsletter.subscribers import export_csv

    for status in ("active", "unsubscribed", "bounced", "complained", "left"):
        make_subscriber(agencies, email=f"{status}@x.org", status=SubscriberStatus(status))
    suppress(agencies, address_hash("bounced@x.org"), reason="bounced")
    suppress(agencies, address_hash("complained@x.org"), reason="complained")
    agencies.commit()
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        export_csv(agencies, fh)
    report = run(agencies, path)
    assert (report.added, report.updated, report.rejected) == (0, 0, 0)
    assert (report.unchanged, report.kept_out) == (1, 4)
