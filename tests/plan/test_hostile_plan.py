"""Hostile plan files: alias bombs, deep nesting, huge files, control characters, unsafe links.

Each is refused by ``plan check`` with file, line and a plain message, before anything is built
from it; nothing unsafe reaches a bulletin.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from newsletter.plan import PlanError, load_plan, markdown_problems
from newsletter.yamllimits import MAX_BYTES
from tests.plan_fixtures import AGENCIES, edit, where, write_plan

THEME = Path("themes") / "2026-07.yaml"
CATALOGUE = Path("catalogue") / "items.yaml"

# The theme file of the issue (about 320 bytes): nine aliases of nine aliases, nine levels deep; fully
# expanded it stands for 9**9 (387 million) strings.
BOMB = (
    "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    return write_plan(tmp_path)


def errors_of(plan_dir: Path) -> list[PlanError]:
    result = load_plan(plan_dir, agencies=AGENCIES)
    assert result.plan is None, "a plan with errors must not be returned"
    return result.errors


def only_error(plan_dir: Path) -> PlanError:
    errors = errors_of(plan_dir)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def test_the_alias_bomb_is_refused_before_it_is_expanded(plan_dir: Path) -> None:
    assert 300 < len(BOMB.encode()) < 330
    (plan_dir / THEME).write_text(BOMB, encoding="utf-8")

    tracemalloc.start()
    try:
        error = only_error(plan_dir)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert where(error, plan_dir) == "themes/2026-07.yaml:6"
    assert "more than 100,000 values" in error.message
    assert "alias" in error.message
    # Expanded, the file takes gigabytes; refused, a few hundred kilobytes of parser state.
    assert peak < 8 * 1024 * 1024


def test_an_alias_inside_the_value_it_names_is_refused(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "audience: [children]\n", "audience: &a [children, *a]\n")

    error = only_error(plan_dir)

    assert where(error, plan_dir) == "themes/2026-07.yaml:5"
    assert "repeat for ever" in error.message


def test_an_ordinary_alias_is_still_allowed(plan_dir: Path) -> None:
    edit(plan_dir / THEME, "audience: [children]\n", "audience: &who [children]\nx_who: *who\n")

    error = only_error(plan_dir)

    # The alias itself is fine; the field it was put in is simply not a theme field.
    assert error.field == "x_who"
    assert "is not a field" in error.message


@pytest.mark.parametrize(
    "nesting",
    [
        "[" * 100_000,
        "[ " * 40 + "]" * 40,
        "  " + "[a, " * 100_000,
        "".join(f"{'  ' * i}- \n" for i in range(1, 60)),
        "".join(f"{'  ' * i}- \n" for i in range(1, 600)),
    ],
    ids=["100k-brackets", "40-brackets", "100k-interleaved", "60-block-levels", "600-levels"],
)
def test_deep_nesting_is_refused_with_a_plain_message(plan_dir: Path, nesting: str) -> None:
    (plan_dir / THEME).write_text(f"month: 2026-07\nintro:\n{nesting}\n", encoding="utf-8")

    error = only_error(plan_dir)

    assert error.file.endswith("2026-07.yaml")
    assert "nested more than 32 deep" in error.message


def test_a_file_over_the_size_limit_is_refused_unread(plan_dir: Path) -> None:
    padding = "# " + "x" * 100 + "\n"
    (plan_dir / THEME).write_text(
        "month: 2026-07\n" + padding * (MAX_BYTES // len(padding) + 1), encoding="utf-8"
    )

    error = only_error(plan_dir)

    assert "can be at most 512 KB" in error.message


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        (
            'subject: "July\'s learning: Non-Accidental Injuries"\n',
            'subject: "July\\r\\nBcc: everyone@example.org"\n',
            3,
            "subject",
        ),
        (
            "preheader: ICON, child protection medicals and courses to book\n",
            'preheader: "ICON\\u0007"\n',
            4,
            "preheader",
        ),
        ("  - title: Training\n", '  - title: "Train\\u202eing"\n', 8, "sections[0].title"),
    ],
    ids=["crlf-in-subject", "bell-in-preheader", "bidi-override-in-title"],
)
def test_control_characters_in_one_line_fields_are_refused_with_the_field(
    plan_dir: Path, old: str, new: str, line: int, field: str
) -> None:
    edit(plan_dir / THEME, old, new)

    error = only_error(plan_dir)

    assert where(error, plan_dir) == f"themes/2026-07.yaml:{line}"
    assert error.field == field
    assert "must be one line of plain text" in error.message


def test_line_breaks_in_markdown_are_fine_but_other_control_characters_are_not(
    plan_dir: Path,
) -> None:
    edit(
        plan_dir / THEME,
        "intro: During July the focus is on Non-Accidental Injuries.\n",
        'intro: "During July\\nthe focus\\u0000 is on NAI."\n',
    )

    error = only_error(plan_dir)

    assert (error.field, where(error, plan_dir)) == ("intro", "themes/2026-07.yaml:6")
    assert "U+0000" in error.message


def test_an_over_long_markdown_text_is_refused(plan_dir: Path) -> None:
    edit(
        plan_dir / THEME,
        "intro: During July the focus is on Non-Accidental Injuries.\n",
        f"intro: {'Words. ' * 2000}\n",
    )

    error = only_error(plan_dir)

    assert error.field == "intro"
    assert "keep it under 10,000" in error.message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ('https://example.org/"><script>alert(1)</script>', 'holds " < >'),
        ("https://trusted.example.org@evil.example.com/", "user name before the site name"),
        ("https://10.0.0.7/admin", "numbered address"),
        ("javascript:alert(document.cookie)", "javascript: address"),
        ("https://example.org/" + "a" * 2100, "keep it under 2,000"),
    ],
)
def test_a_catalogue_url_that_is_unsafe_or_malformed_fails_plan_check(
    plan_dir: Path, url: str, says: str
) -> None:
    edit(
        plan_dir / CATALOGUE,
        "url: https://learning.example.org/courses/icon\n",
        f"url: '{url}'\n",
    )

    error = only_error(plan_dir)

    assert (where(error, plan_dir), error.field) == ("catalogue/items.yaml:6", "items[0].url")
    assert says in error.message


@pytest.mark.parametrize(
    "link",
    [
        "[the NAI guide](javascript:alert(1))",
        "[the NAI guide](JavaScript:alert(1))",
        "[the NAI guide](vbscript:msgbox)",
        "[the NAI guide](data:text/html;base64,PHNjcmlwdD4=)",
        "![the NAI chart](data:image/png;base64,iVBORw0KGgo=)",
    ],
)
def test_unsafe_links_in_markdown_are_refused_with_the_field_and_line(
    plan_dir: Path, link: str
) -> None:
    edit(
        plan_dir / THEME,
        "intro: During July the focus is on Non-Accidental Injuries.\n",
        f"intro: |\n  During July the focus is on\n  Non-Accidental Injuries: {link}.\n",
    )

    error = only_error(plan_dir)

    # The field starts on line 6; the link is on the block's second line, line 8 of the file.
    assert (where(error, plan_dir), error.field) == ("themes/2026-07.yaml:8", "intro")
    assert "runs or embeds something instead of opening a page" in error.message
    # The month editor's live preview says the same, in the same words.
    assert markdown_problems(f"During July the focus is on\nNon-Accidental Injuries: {link}.") == [
        error.message
    ]
