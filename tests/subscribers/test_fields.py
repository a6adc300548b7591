"""A subscriber's own fields are judged in one place, whichever way they arrive."""

from __future__ import annotations

import pytest

from newsletter.subscribers import NAME_MAX, FieldError, clean_name
from newsletter.textcheck import control_problem, one_line


def test_an_ordinary_name_is_kept_with_its_spaces_trimmed() -> None:
    assert clean_name("  Zoë O'Brien-Smith  ") == "Zoë O'Brien-Smith"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("Evil\r\nBcc: all@example.org", "holds a line break"),
        ("Evil\nBcc: all@example.org", "holds a line break"),
        ("Line\u2028separator", "holds a line break"),
        ("Tab\there", "holds a tab"),
        ("Bell\x07", "holds a control character U+0007"),
        ("Null\x00", "holds a control character U+0000"),
        ("C1\x85mid", "holds a control character U+0085"),
        ("txt.\u202eexe", "holds a control character U+202E"),
    ],
)
def test_a_name_with_a_control_character_is_refused_naming_the_field(value: str, says: str) -> None:
    with pytest.raises(FieldError) as caught:
        clean_name(value)
    assert caught.value.field == "name"
    assert str(caught.value).startswith(f"name {says}")


def test_an_over_long_name_is_refused() -> None:
    with pytest.raises(FieldError, match=f"longer than {NAME_MAX} characters"):
        clean_name("x" * (NAME_MAX + 1))


def test_markdown_may_hold_line_breaks_and_tabs_but_no_other_control_character() -> None:
    assert control_problem("one\r\ntwo\tthree", multiline=True) is None
    assert control_problem("one\x1btwo", multiline=True) == (
        "holds a control character U+001B; remove it"
    )


def test_one_line_flattens_every_run_of_forbidden_characters_to_one_space() -> None:
    assert one_line("Evil\r\n\r\nBcc: x") == "Evil Bcc: x"
    assert one_line("Zoë\u00a0O'Brien") == "Zoë\u00a0O'Brien"
    assert one_line("plain") == "plain"
