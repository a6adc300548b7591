"""Property-based: any theme file gives a plan or a list of clear errors, never an exception,
and a plan that is returned holds nothing unsafe."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.plan.links import markdown_links, url_problem
from newsletter.plan.loader import check_snapshot
from newsletter.plan.model import LoadResult
from newsletter.plan.snapshot import CATALOGUE_DIR, THEMES_DIR, Snapshot, digest_of
from newsletter.textcheck import control_problem
from tests.plan_fixtures import AGENCIES, CATALOGUE_YAML, PLAN_YAML, THEME_YAML

YAML_PIECES = st.sampled_from(
    [
        "month: 2026-07\n",
        "title: ",
        "subject: ",
        "intro: ",
        "sections:\n",
        "  - title: T\n    items:\n      - ref: course-icon\n",
        "&a ",
        "*a",
        "[",
        "]",
        "{",
        "}",
        ": ",
        "- ",
        "\n",
        "  ",
        '"',
        "'",
        "|\n",
        ">-\n",
        "#",
        "!!python/object:os.system ",
        "<<: *a\n",
        "\t",
        "\r\n",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
    ]
)
THEME_TEXT = st.lists(st.one_of(YAML_PIECES, st.text(max_size=10)), max_size=30).map("".join)


def check(theme: bytes) -> LoadResult:
    files = {
        "plan.yaml": PLAN_YAML.encode(),
        f"{CATALOGUE_DIR}/items.yaml": CATALOGUE_YAML.encode(),
        f"{THEMES_DIR}/2026-07.yaml": theme,
    }
    snapshot = Snapshot(
        Path("campaigns"), True, frozenset({CATALOGUE_DIR, THEMES_DIR}), files, digest_of(files)
    )
    return check_snapshot(snapshot, agencies=AGENCIES)


def assert_sound(result: LoadResult) -> None:
    assert (result.plan is None) == bool(result.errors)
    for error in result.errors:
        assert error.file
        assert error.message
        assert error.line is None or error.line >= 1
    if result.plan is None:
        return
    for theme in result.plan.themes.values():
        for value in (theme.subject, theme.title, theme.preheader):
            assert control_problem(value) is None
        for text in (theme.intro, *(s.intro or "" for s in theme.sections)):
            for link in markdown_links(text):
                assert url_problem(link.url) is None
    for item in result.plan.catalogue.values():
        assert url_problem(item.url) is None


@settings(max_examples=60)
@given(THEME_TEXT)
def test_any_theme_text_is_a_plan_or_clear_errors(text: str) -> None:
    assert_sound(check(text.encode("utf-8", "surrogatepass")))


@given(st.binary(max_size=300))
def test_any_bytes_are_a_plan_or_clear_errors(data: bytes) -> None:
    assert_sound(check(data))


FIELDS = st.sampled_from(["title", "subject", "preheader", "intro"])


@settings(max_examples=60)
@given(FIELDS, st.text(max_size=60))
def test_any_value_in_a_valid_theme_is_accepted_only_when_safe(field: str, value: str) -> None:
    # JSON strings are YAML double-quoted strings: the value arrives exactly as generated.
    lines = [
        f"{field}: {json.dumps(value)}" if line.startswith(f"{field}:") else line
        for line in THEME_YAML.splitlines()
    ]
    result = check(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))
    assert_sound(result)
