"""The plan in the database: revisions made by import and save, compared, restored, frozen."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from newsletter.config import Settings
from newsletter.models import BulletinStatus
from newsletter.plan import PlanInvalid, load_checked_plan, load_plan
from newsletter.plan.store import (
    StaleRevision,
    current_plan,
    current_revision,
    diff_revisions,
    export_documents,
    import_directory,
    restore_revision,
    revisions,
    save_documents,
)
from tests.conftest import REPO, make_settings
from tests.factories import make_bulletin
from tests.plan_fixtures import AGENCIES, edit, write_plan

THEME = "themes/2026-07.yaml"


def import_(session: Session, path: Path, message: str = "test import") -> int:
    saved = import_directory(
        session, path, agencies=AGENCIES, author="ed@example.org", message=message
    )
    session.commit()
    return saved.revision.number


def test_the_first_read_imports_the_plan_folder_as_revision_1(
    session: Session, settings: Settings
) -> None:
    plan = current_plan(session, settings)
    session.commit()

    revision = current_revision(session)
    assert revision is not None
    assert (revision.number, revision.action, revision.author) == (1, "first start", "system")
    # Same digest as the folder: drafts built from the files before the upgrade stay current.
    assert plan.digest == load_plan(REPO / "campaigns", agencies=AGENCIES).plan.digest  # type: ignore[union-attr]


def test_a_first_import_with_errors_is_refused_and_writes_nothing(
    session: Session, tmp_path: Path, database_url: str
) -> None:
    plan_dir = write_plan(tmp_path)
    edit(plan_dir / THEME, "ref: course-icon", "ref: course-ikon")
    settings = make_settings(tmp_path, plan_dir=plan_dir, database_url=database_url)

    with pytest.raises(PlanInvalid) as caught:
        current_plan(session, settings)

    assert caught.value.errors == load_plan(plan_dir, agencies=AGENCIES).errors
    session.rollback()
    assert current_revision(session) is None


def test_import_then_export_then_import_changes_nothing(session: Session, tmp_path: Path) -> None:
    first = import_(session, write_plan(tmp_path / "a"))
    revision = current_revision(session)
    assert revision is not None
    out = tmp_path / "exported"

    export_documents(revision.documents, out)
    saved = import_directory(session, out, agencies=AGENCIES, author="ed", message="again")

    assert not saved.created
    assert saved.revision.number == first
    assert [r.number for r in revisions(session)] == [1]
    assert (out / THEME).read_bytes() == (tmp_path / "a" / "campaigns" / THEME).read_bytes()


def test_export_removes_plan_files_the_revision_does_not_have(
    session: Session, tmp_path: Path
) -> None:
    import_(session, write_plan(tmp_path / "a"))
    out = write_plan(tmp_path / "b")
    (out / "themes" / "2026-08.yaml").write_text("month: 2026-08\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    revision = current_revision(session)
    assert revision is not None

    written, removed = export_documents(revision.documents, out)

    assert removed == ["themes/2026-08.yaml"]
    assert written == []
    assert (out / "notes.txt").exists()


def test_an_import_with_errors_reports_them_as_plan_check_does_and_keeps_the_current_revision(
    session: Session, tmp_path: Path
) -> None:
    import_(session, write_plan(tmp_path / "a"))
    broken = write_plan(tmp_path / "b")
    edit(broken / THEME, "[health, police]", "[health, polise]")
    edit(broken / "plan.yaml", "day: 1st tue", "day: 5th tue")

    with pytest.raises(PlanInvalid) as caught:
        import_(session, broken)

    assert caught.value.errors == load_plan(broken, agencies=AGENCIES).errors
    assert str(caught.value.errors[0]).startswith(f"{broken / 'plan.yaml'}:2: send_slot.day")
    session.rollback()
    assert [r.number for r in revisions(session)] == [1]


def test_a_save_makes_a_new_current_revision_that_the_plan_readers_see(
    session: Session, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, plan_dir=write_plan(tmp_path), database_url=database_url)
    current_plan(session, settings)
    session.commit()
    revision = current_revision(session)
    assert revision is not None
    documents = dict(revision.documents)
    documents[THEME] = documents[THEME].replace("title: Training", "title: Courses to book")

    saved = save_documents(
        session, documents, base=1, author="ed@example.org", message="rename", agencies=AGENCIES
    )
    session.commit()

    assert (saved.revision.number, saved.revision.parent) == (2, 1)
    # The CLI and the scheduler read the database, not the files (which still say Training).
    plan = load_checked_plan(settings)
    assert plan.theme("2026-07").sections[0].title == "Courses to book"


def test_a_save_with_errors_is_refused_with_the_checks_messages_and_never_becomes_current(
    session: Session, tmp_path: Path
) -> None:
    import_(session, write_plan(tmp_path))
    revision = current_revision(session)
    assert revision is not None
    documents = dict(revision.documents)
    documents[THEME] = documents[THEME].replace("ref: course-icon", "ref: course-ikon")

    with pytest.raises(PlanInvalid) as caught:
        save_documents(session, documents, base=1, author="ed", message="", agencies=AGENCIES)

    assert [str(e) for e in caught.value.errors] == [
        "themes/2026-07.yaml:10: sections[0].items[0].ref: no catalogue item has the id "
        "'course-ikon' (did you mean 'course-icon'?); add it to catalogue/ or fix the id"
    ]
    session.rollback()
    assert [r.number for r in revisions(session)] == [1]


def test_a_save_based_on_an_older_revision_is_refused_with_the_difference(
    session: Session, tmp_path: Path
) -> None:
    import_(session, write_plan(tmp_path))
    base = current_revision(session)
    assert base is not None
    first = dict(base.documents)
    first[THEME] = first[THEME].replace("title: Training", "title: Courses to book")
    save_documents(session, first, base=1, author="ann", message="mine", agencies=AGENCIES)
    session.commit()
    second = dict(base.documents)
    second[THEME] = second[THEME].replace("intro: During July", "intro: All July")

    with pytest.raises(StaleRevision) as caught:
        save_documents(session, second, base=1, author="bob", message="theirs", agencies=AGENCIES)

    assert (caught.value.base, caught.value.current) == (1, 2)
    assert "-  - title: Training\n+  - title: Courses to book\n" in caught.value.diff
    assert "revision 1/themes/2026-07.yaml" in caught.value.diff
    session.rollback()
    assert [r.number for r in revisions(session)] == [2, 1]


def test_an_old_revision_is_restored_as_a_new_revision(session: Session, tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    import_(session, plan_dir)
    edit(plan_dir / THEME, "title: Training", "title: Courses to book")
    import_(session, plan_dir)

    saved = restore_revision(session, 1, base=2, author="ann", message="", agencies=AGENCIES)
    session.commit()

    assert (saved.revision.number, saved.revision.restored_from) == (3, 1)
    assert saved.revision.message == "restored revision 1"
    assert diff_revisions(session, 1, 3) == ""
    assert "+  - title: Courses to book" in diff_revisions(session, 1, 2)


def test_a_month_already_sent_keeps_its_theme_as_sent(session: Session, tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    import_(session, plan_dir)
    sent_digest = current_revision(session).digest  # type: ignore[union-attr]
    make_bulletin(session, month="2026-07", status=BulletinStatus.sent, plan_hash=sent_digest)
    session.commit()
    edit(plan_dir / THEME, "title: Non-Accidental Injuries", "title: Something else")
    edit(plan_dir / "catalogue" / "items.yaml", "Coping with a crying baby.", "Coping, calmly.")

    saved = import_directory(session, plan_dir, agencies=AGENCIES, author="ed", message="")
    session.commit()

    assert saved.kept_as_sent == ("2026-07",)
    assert saved.created  # the catalogue change is taken
    assert "title: Non-Accidental Injuries" in saved.revision.documents[THEME]
    assert "Coping, calmly." in saved.revision.documents["catalogue/items.yaml"]


def test_a_sent_month_is_not_judged_against_todays_booking_dates(
    session: Session, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path)
    import_(session, plan_dir)
    make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
    session.commit()
    # The course's booking closed before July's send date: fine for a month already sent.
    edit(
        plan_dir / "catalogue" / "items.yaml",
        "booking_closes: 2026-12-31",
        "booking_closes: 2026-07-01",
    )

    assert import_(session, plan_dir) == 2
    assert not load_plan(plan_dir, agencies=AGENCIES).ok  # but the folder alone fails
