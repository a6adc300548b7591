"""Link rules shared by the plan check and assembly: absolute addresses, words that say where."""

from __future__ import annotations

import pytest

from newsletter.plan.links import MarkdownLink, is_vague_link_text, markdown_links, url_problem


@pytest.mark.parametrize(
    "text",
    [
        "click here",
        "Click Here.",
        "here",
        "HERE",
        "read more",
        "More information",
        "link",
        "click to book",
        "Click here to book the course",
        "  ",
        "download",
    ],
)
def test_vague_link_texts_are_recognised(text: str) -> None:
    assert is_vague_link_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "Book the ICON eLearning course",
        "Read the Safer7 on Neglect",
        "Download the ICON poster (PDF)",
        "Where to get help",
    ],
)
def test_link_texts_that_say_where_they_go_are_accepted(text: str) -> None:
    assert not is_vague_link_text(text)


@pytest.mark.parametrize(
    "url", ["https://learning.example.org/courses/icon?x=1#top", "http://www.example.org"]
)
def test_absolute_web_addresses_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/courses/icon", "must start with https://"),
        ("mailto:learning@example.org", "must start with https://"),
        ("javascript:alert(1)", "must start with https://"),
        ("https://", "no proper site name"),
        ("https://localhost/x", "no proper site name"),
        ("https://example.org/a b", "spaces"),
        ("https://example.org:99999/", "not a valid web address"),
    ],
)
def test_other_addresses_are_refused_with_a_reason(url: str, says: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert says in problem


def test_markdown_links_are_found_with_their_words() -> None:
    text = "See [the **neglect** strategy](https://example.org/n) and <https://example.org/a>.\n\n- [x](/y)"

    assert list(markdown_links(text)) == [
        MarkdownLink(text="the neglect strategy", url="https://example.org/n"),
        MarkdownLink(text="https://example.org/a", url="https://example.org/a"),
        MarkdownLink(text="x", url="/y", line=3),
    ]


def test_links_after_an_html_tag_are_found_as_the_bulletin_renders_them() -> None:
    # With raw HTML on, "<div>" would open an HTML block hiding the link; the bulletin
    # renders with HTML off (the tag as text, the link as a link), and so does the check.
    text = "<div>\n[click here](https://10.0.0.1/)\n\n<script>x</script> [a](javascript:y)"

    assert list(markdown_links(text)) == [
        MarkdownLink(text="click here", url="https://10.0.0.1/", line=2),
        MarkdownLink(text="a", url="javascript:y", line=4),
    ]
