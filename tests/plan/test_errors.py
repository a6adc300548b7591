"""Every kind of plan error is reported with its file, line, field and a plain message."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.plan import PlanError, load_plan
from tests.plan_fixtures import AGENCIES, edit, where, write_plan


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    return write_plan(tmp_path)


def errors_of(plan_dir: Path) -> list[PlanError]:
    result = load_plan(plan_dir, agencies=AGENCIES)
    assert result.plan is None, "a plan with errors must not be returned"
    assert not result.ok
    return result.errors


def only_error(plan_dir: Path) -> PlanError:
    errors = errors_of(plan_dir)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


THEME = Path("themes") / "2026-07.yaml"
CATALOGUE = Path("catalogue") / "items.yaml"


def test_the_untouched_fixture_plan_has_no_errors(plan_dir: Path) -> None:
    assert load_plan(plan_dir, agencies=AGENCIES).ok


def test_a_yaml_syntax_error_names_its_line(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "title: Training\n", "title: Training\n   bad: indentation\n")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-07.yaml:9"
    assert "not indented like the lines around it" in error.message


def test_a_key_written_twice_is_a_yaml_error(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "title: Non-Accidental Injuries\n", "title: A\ntitle: B\n")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-07.yaml:3"
    assert "written twice" in error.message


def test_a_missing_field_names_the_field_and_the_mapping_that_lacks_it(plan_dir: Path) -> None:
    edit(plan_dir / CATALOGUE, "    link_text: Read the Safer7 on Non-Accidental Injury\n", "")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "catalogue/items.yaml:10"
    assert error.field == "items[1].link_text"
    assert error.message == "is required but missing"


def test_a_misspelt_field_is_an_unknown_field(plan_dir: Path) -> None:
    edit(plan_dir / CATALOGUE, "    summary: Coping", "    sumary: Coping")

    errors = errors_of(plan_dir)

    assert {(where(e, plan_dir), e.field) for e in errors} == {
        ("catalogue/items.yaml:5", "items[0].sumary"),
        ("catalogue/items.yaml:2", "items[0].summary"),
    }
    unknown = next(e for e in errors if e.field == "items[0].sumary")
    assert "not a field" in unknown.message


def test_a_field_of_the_wrong_type_says_what_it_should_be(plan_dir: Path) -> None:
    edit(plan_dir / "plan.yaml", "draft_lead_days: 10", "draft_lead_days: soon")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("plan.yaml:5", "draft_lead_days")
    assert error.message == "should be a whole number"


def test_a_time_must_be_written_as_hours_and_minutes(plan_dir: Path) -> None:
    edit(plan_dir / "plan.yaml", 'time: "09:00"', "time: 9am")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("plan.yaml:3", "send_slot.time")
    assert "24-hour clock" in error.message


def test_a_url_that_is_not_absolute_http_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / CATALOGUE,
        "url: https://learning.example.org/courses/icon",
        "url: learning.example.org/courses/icon",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("catalogue/items.yaml:6", "items[0].url")
    assert "must start with https://" in error.message


@pytest.mark.parametrize(
    "url",
    ["ftp://files.example.org/icon.pdf", "https:///nohost", "https://example.org/a b", "/icon"],
)
def test_other_bad_urls_are_refused(plan_dir: Path, url: str) -> None:
    edit(plan_dir / CATALOGUE, "https://learning.example.org/courses/icon", url)
    assert only_error(plan_dir).field == "items[0].url"


def test_an_unknown_catalogue_id_suggests_the_nearest(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "ref: course-icon", "ref: course-ikon")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-07.yaml:10"
    assert error.field == "sections[0].items[0].ref"
    assert "no catalogue item has the id 'course-ikon'" in error.message
    assert "did you mean 'course-icon'?" in error.message


def test_a_duplicated_catalogue_id_points_at_the_first_use(plan_dir: Path) -> None:
    (plan_dir / "catalogue" / "more.yaml").write_text(
        "items:\n"
        "  - id: briefing-nai\n"
        "    kind: briefing\n"
        "    title: Another\n"
        "    summary: Another.\n"
        "    url: https://www.safeguarding.example.org/other\n"
        "    link_text: Read the other briefing\n",
        encoding="utf-8",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("catalogue/more.yaml:2", "items[0].id")
    assert "already used at" in error.message
    assert "items.yaml:10" in error.message


def test_a_month_planned_twice_is_refused(plan_dir: Path) -> None:
    text = (plan_dir / THEME).read_text(encoding="utf-8")
    (plan_dir / "themes" / "2026-08.yaml").write_text(text, encoding="utf-8")

    errors = errors_of(plan_dir)

    messages = {(where(e, plan_dir), e.field): e.message for e in errors}
    assert list(messages) == [("themes/2026-08.yaml:1", "month")]
    assert "2026-07 already has a theme in" in messages[("themes/2026-08.yaml:1", "month")]


def test_a_theme_file_named_for_another_month_is_refused(plan_dir: Path) -> None:
    (plan_dir / THEME).rename(plan_dir / "themes" / "2026-08.yaml")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("themes/2026-08.yaml:1", "month")
    assert "rename it 2026-07.yaml" in error.message


def test_a_course_closing_for_booking_before_the_send_date_is_refused(plan_dir: Path) -> None:
    edit(plan_dir / CATALOGUE, "booking_closes: 2026-12-31", "booking_closes: 2026-07-06")

    error = only_error(plan_dir)

    # July 2026's bulletin goes out on the first Tuesday, 7 July.
    assert where(error, plan_dir) == "themes/2026-07.yaml:10"
    assert error.field == "sections[0].items[0].ref"
    assert "6 July 2026, before this bulletin goes out on 7 July 2026" in error.message


def test_a_course_closing_on_the_send_date_is_accepted(plan_dir: Path) -> None:
    edit(plan_dir / CATALOGUE, "booking_closes: 2026-12-31", "booking_closes: 2026-07-07")
    assert load_plan(plan_dir, agencies=AGENCIES).ok


def test_a_course_needs_a_format_and_a_booking_date(plan_dir: Path) -> None:
    edit(plan_dir / CATALOGUE, "    format: eLearning\n    booking_closes: 2026-12-31\n", "")

    errors = errors_of(plan_dir)

    assert sorted(e.field for e in errors) == ["items[0].booking_closes", "items[0].format"]


def test_an_empty_section_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / THEME,
        "    items:\n      - ref: briefing-nai\n        agencies: [health, police]\n",
        "    items: []\n",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("themes/2026-07.yaml:12", "sections[1].items")
    assert "no items" in error.message


def test_an_unknown_agency_is_refused_with_a_suggestion(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "[health, police]", "[health, polise]")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-07.yaml:14"
    assert error.field == "sections[1].items[0].agencies[1]"
    assert "'polise' is not an agency (did you mean 'police'?)" in error.message


def test_an_unknown_agency_in_the_catalogue_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / CATALOGUE,
        "    booking_closes: 2026-12-31\n",
        "    booking_closes: 2026-12-31\n    agencies:\n      - health\n      - nhs\n",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == (
        "catalogue/items.yaml:12",
        "items[0].agencies[1]",
    )


def test_agencies_are_not_checked_when_none_are_given(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "[health, police]", "[health, polise]")
    assert load_plan(plan_dir).ok


def test_an_unknown_audience_is_refused(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "audience: [children]", "audience: [children, elderly]")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("themes/2026-07.yaml:5", "audience[1]")
    assert "'elderly' is not an audience; use children or adults" in error.message


@pytest.mark.parametrize("day", ["5th tue", "31", "someday"])
def test_a_send_slot_that_does_not_fire_every_month_is_refused(plan_dir: Path, day: str) -> None:
    edit(plan_dir / "plan.yaml", "day: 1st tue", f"day: {day}")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("plan.yaml:2", "send_slot.day")


def test_an_unknown_time_zone_is_refused(plan_dir: Path) -> None:
    edit(plan_dir / "plan.yaml", "Europe/London", "Europe/Dudley")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("plan.yaml:4", "send_slot.timezone")


def test_a_send_date_outside_the_month_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / THEME,
        "audience: [children]\n",
        "audience: [children]\nsend:\n  date: 2026-08-04\n",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("themes/2026-07.yaml:7", "send.date")


@pytest.mark.parametrize("text", ["Click here", "here", "Read more", "click here to book"])
def test_a_link_text_that_does_not_say_where_it_goes_is_refused(plan_dir: Path, text: str) -> None:
    edit(plan_dir / CATALOGUE, "link_text: Book the ICON eLearning course", f"link_text: {text}")

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("catalogue/items.yaml:7", "items[0].link_text")
    assert "does not say where the link goes" in error.message


def test_links_inside_markdown_text_are_checked_too(plan_dir: Path) -> None:
    edit(
        plan_dir / THEME,
        "intro: During July the focus is on Non-Accidental Injuries.",
        "intro: See [here](https://www.example.org/nai) and [our page](/nai).",
    )

    errors = errors_of(plan_dir)

    assert {(where(e, plan_dir), e.field) for e in errors} == {("themes/2026-07.yaml:6", "intro")}
    assert len(errors) == 2


def test_a_missing_plan_file_and_folders_are_reported(tmp_path: Path) -> None:
    (tmp_path / "campaigns").mkdir()

    errors = errors_of(tmp_path / "campaigns")

    assert sorted(Path(e.file).name for e in errors) == ["catalogue", "plan.yaml", "themes"]


def test_an_empty_theme_file_is_reported(plan_dir: Path) -> None:
    (plan_dir / "themes" / "2026-08.yaml").write_text("# nothing yet\n", encoding="utf-8")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-08.yaml:1"
    assert error.message == "the file is empty"


def test_several_errors_in_several_files_are_all_reported_together(plan_dir: Path) -> None:
    edit(plan_dir / "plan.yaml", "day: 1st tue", "day: 5th tue")
    edit(plan_dir / CATALOGUE, "link_text: Book the ICON eLearning course", "link_text: click here")
    edit(plan_dir / THEME, "ref: briefing-nai", "ref: briefing-nia")
    edit(plan_dir / THEME, "audience: [children]", "audience: [kids]")
    (plan_dir / "themes" / "2026-08.yaml").write_text("month: [2026-08\n", encoding="utf-8")

    errors = errors_of(plan_dir)

    assert sorted(where(e, plan_dir) for e in errors) == [
        "catalogue/items.yaml:7",
        "plan.yaml:2",
        "themes/2026-07.yaml:13",
        "themes/2026-07.yaml:5",
        "themes/2026-08.yaml:2",
    ]
    assert all(str(e).startswith(e.file) for e in errors)


def test_an_item_used_twice_in_one_month_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / THEME,
        "      - ref: briefing-nai\n",
        "      - ref: course-icon\n      - ref: briefing-nai\n",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == (
        "themes/2026-07.yaml:13",
        "sections[1].items[0].ref",
    )
    assert "already in this month at line 10" in error.message


def test_a_file_that_is_not_utf8_is_reported(plan_dir: Path) -> None:
    (plan_dir / "catalogue" / "latin1.yaml").write_bytes("items: []\n# caf\xe9\n".encode("latin-1"))

    error = only_error(plan_dir)

    assert Path(error.file).name == "latin1.yaml"
    assert "UTF-8" in error.message


def test_a_tab_in_the_indentation_is_a_yaml_error_with_its_line(plan_dir: Path) -> None:
    edit(plan_dir / "plan.yaml", "  timezone: Europe/London", "\ttimezone: Europe/London")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "plan.yaml:4"
