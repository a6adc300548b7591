"""The plan loader on good plans: the sample in campaigns/, and what a plan object holds."""

from __future__ import annotations

import functools
from datetime import date, time
from pathlib import Path

import pytest

from newsletter.config import Settings
from newsletter.models import Audience
from newsletter.plan import ItemKind, Plan, PlanInvalid, load_checked_plan, load_plan
from newsletter.plan.slots import send_time
from newsletter.plan.timetable import send_info
from tests.conftest import REPO, make_settings
from tests.plan_fixtures import AGENCIES, edit, write_plan

SAMPLE = REPO / "campaigns"


def test_the_sample_plan_loads_without_errors() -> None:
    result = load_plan(SAMPLE, agencies=AGENCIES)

    assert [str(error) for error in result.errors] == []
    assert result.ok
    assert result.plan is not None
    assert result.plan == load_checked_plan_from(SAMPLE)
    months = list(result.plan.themes)
    assert months[0] == "2026-07"
    assert months[-1] == "2027-12"
    assert len(months) == 18


def test_the_sample_plan_has_every_month_from_july_2026_to_december_2027() -> None:
    plan = load_checked_plan_from(SAMPLE)
    expected = [f"2026-{m:02d}" for m in range(7, 13)] + [f"2027-{m:02d}" for m in range(1, 13)]
    assert list(plan.themes) == expected
    assert len(plan.catalogue) >= 40


def test_july_2026_is_the_non_accidental_injuries_bulletin_of_the_seed_page() -> None:
    theme = load_checked_plan_from(SAMPLE).theme("2026-07")

    assert "Non-Accidental Injuries" in theme.title
    assert theme.audiences == (Audience.children,)
    titles = [section.title for section in theme.sections]
    assert titles == [
        "How do we review multi-agency practice and share learning?",
        "Reviews",
        "Helpful Resources",
        "Training and Resources",
        "Safer7 Briefings",
    ]
    courses = [use.item for use in theme.sections[3].items]
    assert all(item.kind is ItemKind.course for item in courses)
    assert [item.title for item in courses] == [
        "ICON: Babies cry, you can cope",
        "Child Abuse and Neglect eLearning",
        "Introduction to the Partnership's Support Level Guidance and Framework (Children's)",
        "Child Neglect",
        "Child Protection Conferences",
        "Professional Curiosity",
    ]
    assert len(courses[3].points) == 7
    assert len(courses[4].points) == 5
    briefings = [use.item.title for use in theme.sections[4].items]
    assert len(briefings) == 7
    assert "Safer7: Disguised Compliance" in briefings
    medicals = next(u for u in theme.items() if u.item.id == "resource-cp-medicals")
    assert medicals.shown_to("health")
    assert not medicals.shown_to("education")


def test_the_seed_pages_typos_are_fixed() -> None:
    plan = load_checked_plan_from(SAMPLE)
    text = " ".join(item.summary for item in plan.catalogue.values())
    assert "July have" not in text
    assert "July be" not in text
    assert "who may have safeguarding needs" in text


def test_no_sample_link_text_says_click_here() -> None:
    plan = load_checked_plan_from(SAMPLE)
    for item in plan.catalogue.values():
        assert "click" not in item.link_text.lower()
        assert not item.link_text.lower().endswith(" here")


def test_every_sample_course_takes_bookings_when_its_bulletins_go_out() -> None:
    plan = load_checked_plan_from(SAMPLE)
    for theme in plan.themes.values():
        goes_out = send_time(plan, theme).date()
        for use in theme.items():
            if use.item.kind is ItemKind.course:
                assert use.item.format
                assert use.item.booking_closes is not None
                assert use.item.booking_closes >= goes_out


def test_a_plan_holds_its_slot_catalogue_themes_and_sources(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)

    result = load_plan(plan_dir, agencies=AGENCIES)

    plan = result.plan
    assert plan is not None
    assert (plan.slot.day, plan.slot.at, plan.slot.timezone) == (
        "1st tue",
        time(9),
        "Europe/London",
    )
    assert plan.draft_lead_days == 10
    course = plan.catalogue["course-icon"]
    assert course.kind is ItemKind.course
    assert course.booking_closes == date(2026, 12, 31)
    assert course.source is not None
    assert course.source.line == 2
    theme = plan.theme("2026-07")
    use = theme.sections[1].items[0]
    assert use.item is plan.catalogue["briefing-nai"]
    assert use.target_agencies == ("health", "police")
    assert use.source is not None
    assert (Path(use.source.file).name, use.source.line) == ("2026-07.yaml", 13)
    assert plan.files == ("catalogue/items.yaml", "plan.yaml", "themes/2026-07.yaml")
    assert len(plan.digest) == 64


def test_the_digest_changes_when_any_plan_file_changes(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    before = load_plan(plan_dir).plan
    edit(plan_dir / "catalogue" / "items.yaml", "Coping with a crying baby.", "Coping, calmly.")
    after = load_plan(plan_dir).plan

    assert before is not None
    assert after is not None
    assert before.digest != after.digest
    assert load_plan(plan_dir).plan == after  # same files, same digest


def test_a_theme_can_name_its_own_send_date_and_time(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    edit(
        plan_dir / "themes" / "2026-07.yaml",
        "audience: [children]\n",
        'audience: [children]\nsend:\n  date: 2026-07-14\n  time: "10:30"\n',
    )

    plan = load_plan(plan_dir).plan

    assert plan is not None
    theme = plan.theme("2026-07")
    assert (theme.send_date, theme.send_time) == (date(2026, 7, 14), time(10, 30))
    assert send_info(plan, theme).date_overridden


def test_a_default_slot_on_a_bank_holiday_is_shown_as_moved(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    edit(plan_dir / "plan.yaml", "day: 1st tue", "day: 1st mon")
    edit(plan_dir / "themes" / "2026-07.yaml", "month: 2026-07", "month: 2027-05")
    (plan_dir / "themes" / "2026-07.yaml").rename(plan_dir / "themes" / "2027-05.yaml")
    edit(plan_dir / "catalogue" / "items.yaml", "2026-12-31", "2027-12-31")

    plan = load_plan(plan_dir).plan

    assert plan is not None
    info = send_info(plan, plan.theme("2027-05"))
    assert info.moved_from == date(2027, 5, 3)  # Early May bank holiday
    assert info.moved_because is not None
    assert "May" in info.moved_because
    assert info.at.date() == date(2027, 5, 4)


def test_load_checked_plan_reads_the_agencies_from_the_subscribers_folder(
    settings: Settings,
) -> None:
    plan = load_checked_plan(settings)
    assert "2026-07" in plan.themes


def test_load_checked_plan_raises_plan_invalid_with_every_error(
    tmp_path: Path, database_url: str
) -> None:
    plan_dir = write_plan(tmp_path)
    edit(plan_dir / "themes" / "2026-07.yaml", "[health, police]", "[helth, police]")
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")
    settings = make_settings(tmp_path, plan_dir=plan_dir, database_url=database_url)

    with pytest.raises(PlanInvalid) as caught:
        load_checked_plan(settings)

    assert len(caught.value.errors) == 2
    assert "2 error(s)" in str(caught.value)


def test_load_checked_plan_reports_a_missing_agency_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, subscribers_dir=tmp_path)
    with pytest.raises(PlanInvalid) as caught:
        load_checked_plan(settings)
    assert [e.message for e in caught.value.errors] == ["no such file"]


@functools.cache
def load_checked_plan_from(plan_dir: Path) -> Plan:
    """The sample, read once per test run (reading it takes a noticeable fraction of a second)."""
    result = load_plan(plan_dir, agencies=AGENCIES)
    assert result.plan is not None, [str(e) for e in result.errors]
    return result.plan


def test_an_unchanged_plan_is_not_parsed_again(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    first = load_plan(plan_dir, agencies=AGENCIES).plan
    second = load_plan(plan_dir, agencies=AGENCIES).plan

    assert first is not None
    assert second is first
    edit(plan_dir / "themes" / "2026-07.yaml", "title: Training", "title: Courses to book")
    third = load_plan(plan_dir, agencies=AGENCIES).plan
    assert third is not None
    assert third is not first
    assert third.theme("2026-07").sections[0].title == "Courses to book"


def test_a_cached_result_with_errors_is_returned_as_a_fresh_list(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    edit(plan_dir / "themes" / "2026-07.yaml", "ref: course-icon", "ref: course-ikon")
    first = load_plan(plan_dir)
    first.errors.clear()

    assert len(load_plan(plan_dir).errors) == 1
