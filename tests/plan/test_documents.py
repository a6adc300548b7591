"""The documents the staff pages write: every sample month written back from the editor's form
reads as the same theme; catalogue items change inside their own file, comments kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from newsletter.plan import Theme
from newsletter.plan.documents import (
    ItemForm,
    form_from_theme,
    put_item,
    theme_document,
    theme_path,
)
from newsletter.plan.store import check_documents, read_directory
from tests.conftest import REPO
from tests.plan_fixtures import AGENCIES


def _without_sources(theme: Theme) -> Theme:
    sections = tuple(
        replace(s, source=None, items=tuple(replace(u, source=None) for u in s.items))
        for s in theme.sections
    )
    return replace(theme, source=None, sections=sections)


def test_every_sample_month_written_from_the_editors_form_reads_as_the_same_theme() -> None:
    documents, errors = read_directory(REPO / "campaigns")
    assert not errors
    before = check_documents(documents, agencies=AGENCIES).plan
    assert before is not None
    rewritten = dict(documents)
    for month, theme in before.themes.items():
        rewritten[theme_path(month)] = theme_document(form_from_theme(theme, month=month))

    after = check_documents(rewritten, agencies=AGENCIES).plan

    assert after is not None
    for month, theme in before.themes.items():
        assert _without_sources(after.themes[month]) == _without_sources(theme), month


def test_an_edited_catalogue_item_stays_in_its_file_and_the_comments_stay(tmp_path: Path) -> None:
    documents, _ = read_directory(REPO / "campaigns")
    plan = check_documents(documents, agencies=AGENCIES).plan
    assert plan is not None
    icon = plan.catalogue["course-icon"]
    form = ItemForm(
        id=icon.id,
        kind="course",
        title="ICON, renamed",
        summary=icon.summary,
        url=icon.url,
        link_text=icon.link_text,
        format=icon.format or "",
        booking_closes=icon.booking_closes.isoformat() if icon.booking_closes else "",
    )

    changed = put_item(documents, form, original_id="course-icon")

    assert [rel for rel in changed if changed[rel] != documents[rel]] == ["catalogue/courses.yaml"]
    first_line = documents["catalogue/courses.yaml"].splitlines()[0]
    assert first_line.startswith("#")
    assert changed["catalogue/courses.yaml"].splitlines()[0] == first_line
    after = check_documents(changed, agencies=AGENCIES).plan
    assert after is not None
    assert after.catalogue["course-icon"].title == "ICON, renamed"
    assert len(after.catalogue) == len(plan.catalogue)


def test_a_retired_item_cannot_be_placed_in_a_month_that_has_not_been_sent() -> None:
    documents, _ = read_directory(REPO / "campaigns")
    plan = check_documents(documents, agencies=AGENCIES).plan
    assert plan is not None
    icon = plan.catalogue["course-icon"]
    form = ItemForm(
        id=icon.id,
        kind="course",
        title=icon.title,
        summary=icon.summary,
        url=icon.url,
        link_text=icon.link_text,
        format=icon.format or "",
        booking_closes=icon.booking_closes.isoformat() if icon.booking_closes else "",
        retired=True,
    )
    retired = put_item(documents, form, original_id="course-icon")
    months = [
        m for m, t in plan.themes.items() if any(u.item.id == "course-icon" for u in t.items())
    ]

    refused = check_documents(retired, agencies=AGENCIES)
    kept = check_documents(retired, agencies=AGENCIES, frozen=months)

    assert {e.file for e in refused.errors} == {theme_path(m) for m in months}
    assert all("'course-icon' is retired" in e.message for e in refused.errors)
    assert kept.ok
