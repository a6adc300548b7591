"""The mistakes a non-programmer makes editing campaigns/, each giving the one message they need.

Every case breaks a copy of the real sample plan the way a comms officer would (pasting from
Word, a tab, a date written the British way...) and expects exactly one message, at the right
file and line, with words that say how to fix it, and no knock-on errors. A few "mistakes" are
harmless (a byte-order mark, Windows line endings, a time without quotes): those must pass.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from newsletter.plan import load_plan
from tests.conftest import REPO
from tests.plan_fixtures import AGENCIES

COURSES = "catalogue/courses.yaml"
JULY = "themes/2026-07.yaml"


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


@dataclass(frozen=True)
class Mistake:
    break_it: Callable[[Path], None]
    file: str | None  # the one message's file (relative to the plan); None: the plan is valid
    line: Callable[[Path], int] | None = None  # its line, found in the broken file
    says: tuple[str, ...] = ()  # words the message must contain


def tab_indentation(plan: Path) -> None:
    replace_once(
        plan / COURSES,
        "    kind: course\n    title: Child Abuse",
        "\tkind: course\n    title: Child Abuse",
    )


def unquoted_colon(plan: Path) -> None:
    replace_once(
        plan / COURSES,
        'title: "ICON: Babies cry, you can cope"',
        "title: ICON: Babies cry, you can cope",
    )


def smart_quotes_with_a_colon(plan: Path) -> None:
    path = plan / JULY
    text = path.read_text(encoding="utf-8")
    start = text.index("subject: ")
    end = text.index("\n", start)
    path.write_text(
        text[:start] + "subject: “July learning: Non-Accidental Injuries”" + text[end:],
        encoding="utf-8",
    )


def smart_quotes_around_a_title(plan: Path) -> None:
    replace_once(plan / JULY, "title: Non-Accidental Injuries", "title: “Non-Accidental Injuries”")


def byte_order_mark(plan: Path) -> None:
    path = plan / JULY
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def crlf_line_endings(plan: Path) -> None:
    path = plan / COURSES
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def british_date(plan: Path) -> None:
    replace_once(plan / COURSES, "booking_closes: 2027-12-31", "booking_closes: 31/12/2027")


def unquoted_time(plan: Path) -> None:
    replace_once(plan / "plan.yaml", 'time: "09:00"', "time: 09:00")


def time_with_a_dot(plan: Path) -> None:
    replace_once(plan / "plan.yaml", 'time: "09:00"', "time: 9.30")


def item_indented_wrongly(plan: Path) -> None:
    replace_once(
        plan / JULY, "      - ref: course-child-neglect", "    - ref: course-child-neglect"
    )


def duplicated_id(plan: Path) -> None:
    # A new course made by copying the one above, its id left unchanged.
    path = plan / COURSES
    text = path.read_text(encoding="utf-8")
    start = text.index("  - id: course-icon\n")
    end = text.index("  - id: course-child-abuse-neglect-elearning")
    copy = text[start:end].replace("ICON: Babies cry, you can cope", "ICON for fathers")
    path.write_text(text[:end] + copy + text[end:], encoding="utf-8")


def renamed_id(plan: Path) -> None:
    # "icon" read better to someone; but July (sent) and December use "course-icon".
    replace_once(plan / COURSES, "  - id: course-icon\n", "  - id: course-icon-babies\n")


def empty_section(plan: Path) -> None:
    path = plan / JULY
    text = path.read_text(encoding="utf-8")
    start = text.index("      - ref: course-icon")
    end = text.index("      - ref: course-professional-curiosity\n") + len(
        "      - ref: course-professional-curiosity\n"
    )
    path.write_text(text[:start] + text[end:], encoding="utf-8")


def month_file_misnamed(plan: Path) -> None:
    (plan / JULY).rename(plan / "themes" / "july-2026.yaml")


def missing_closing_quote(plan: Path) -> None:
    replace_once(
        plan / COURSES,
        'title: "ICON: Babies cry, you can cope"',
        'title: "ICON: Babies cry, you can cope',
    )


MISTAKES = {
    "tab indentation": Mistake(
        tab_indentation,
        COURSES,
        lambda p: line_of(p / COURSES, "\tkind: course"),
        ("indented with a tab", "replace the tab with spaces"),
    ),
    "unquoted colon in a course title": Mistake(
        unquoted_colon,
        COURSES,
        lambda p: line_of(p / COURSES, "title: ICON: Babies"),
        ("put quotes around text that contains a colon", 'title: "ICON: Babies cry, you can cope"'),
    ),
    "smart quotes pasted from Word around text with a colon": Mistake(
        smart_quotes_with_a_colon,
        JULY,
        lambda p: line_of(p / JULY, "subject: “"),
        ("curly quotes", "straight quotes"),
    ),
    "smart quotes pasted from Word around a title": Mistake(
        smart_quotes_around_a_title,
        JULY,
        lambda p: line_of(p / JULY, "title: “"),
        ("curly quote", "straight quotes"),
    ),
    "a byte-order mark": Mistake(byte_order_mark, None),
    "CRLF line endings": Mistake(crlf_line_endings, None),
    "a date written 31/12/2027": Mistake(
        british_date,
        COURSES,
        lambda p: line_of(p / COURSES, "31/12/2027"),
        ("year first", "2027-12-31"),
    ),
    "an unquoted time": Mistake(unquoted_time, None),
    "a time written 9.30": Mistake(
        time_with_a_dot,
        "plan.yaml",
        lambda p: line_of(p / "plan.yaml", "time: 9.30"),
        ("24-hour clock", '"09:00"'),
    ),
    "an item indented wrongly": Mistake(
        item_indented_wrongly,
        JULY,
        lambda p: line_of(p / JULY, "    - ref: course-child-neglect"),
        ("not indented like the lines around it",),
    ),
    "a duplicated id": Mistake(
        duplicated_id,
        COURSES,
        lambda p: line_of(p / COURSES, "ICON for fathers") - 2,
        ("is already used at", "its own id"),
    ),
    "a renamed id already used in a sent bulletin": Mistake(
        renamed_id,
        JULY,
        lambda p: line_of(p / JULY, "ref: course-icon"),
        ("give it back its old id 'course-icon'", "also used at 2026-12.yaml"),
    ),
    "an empty section": Mistake(
        empty_section,
        JULY,
        lambda p: line_of(p / JULY, 'intro: "The courses below') + 1,
        ("this section has no items",),
    ),
    "a month file named differently from its month": Mistake(
        month_file_misnamed,
        "themes/july-2026.yaml",
        lambda p: line_of(p / "themes" / "july-2026.yaml", "month: 2026-07"),
        ("rename it 2026-07.yaml",),
    ),
    "a quote never closed": Mistake(
        missing_closing_quote,
        COURSES,
        lambda p: line_of(p / COURSES, 'title: "ICON'),
        ("never closed",),
    ),
}


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return Path(shutil.copytree(REPO / "campaigns", tmp_path / "campaigns"))


def test_the_sample_plan_is_clean_before_anything_is_broken(plan: Path) -> None:
    assert load_plan(plan, agencies=AGENCIES).ok


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_mistake_gives_exactly_the_one_message_a_person_needs(plan: Path, name: str) -> None:
    mistake = MISTAKES[name]
    mistake.break_it(plan)

    result = load_plan(plan, agencies=AGENCIES)

    if mistake.file is None:
        assert result.ok, [str(e) for e in result.errors]
        return
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    [error] = result.errors
    assert error.file == str(plan / mistake.file)
    assert mistake.line is not None
    assert error.line == mistake.line(plan), str(error)
    for words in mistake.says:
        assert words in error.message, str(error)
    assert "did you mean" not in error.message or name.startswith("a renamed id")


def test_a_catalogue_file_that_does_not_parse_skips_the_id_checks_and_the_summary_says_so(
    plan: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from newsletter.cli import app

    unquoted_colon(plan)
    monkeypatch.setenv("NEWSLETTER_SUBSCRIBERS_DIR", str(REPO / "subscribers"))
    monkeypatch.setenv("NEWSLETTER_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["plan", "check", str(plan)])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    line = line_of(plan / COURSES, "title: ICON: Babies")
    assert lines[0].startswith(f"{plan / COURSES}:{line}:")  # file:line:column
    assert "put quotes around text that contains a colon" in lines[0]
    assert lines[1] == f"1 error in the plan at {plan}; nothing was changed."
    assert lines[2] == (
        "Not checked yet: the catalogue ids the themes use were not checked, because "
        f"{COURSES} could not be read; fix that first."
    )
    assert len(lines) == 3
    assert "no catalogue item" not in result.output


def test_every_problem_of_a_course_appears_in_one_run_in_plain_words(plan: Path) -> None:
    replace_once(
        plan / COURSES,
        "    booking_closes: 2027-12-31\n",
        "",
    )
    replace_once(plan / COURSES, "    format: eLearning\n", "    format: [eLearning\n    ]\n")
    replace_once(
        plan / COURSES,
        "    link_text: Book the ICON eLearning course\n",
        "    link_text: click here\n",
    )

    errors = load_plan(plan, agencies=AGENCIES).errors

    fields = sorted(error.field for error in errors)
    assert fields == ["items[0].booking_closes", "items[0].format", "items[0].link_text"], [
        str(e) for e in errors
    ]
    [closes] = [e for e in errors if e.field.endswith("booking_closes")]
    assert closes.message == (
        "is required for a course: the last day people can book, e.g. booking_closes: 2027-07-31"
    )
