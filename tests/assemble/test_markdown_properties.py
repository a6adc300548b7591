"""Property-based: the Markdown sanitiser turns any text into safe HTML, never an exception."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from newsletter.assemble.markdown import render_prose

# Markdown and HTML syntax, schemes and event handlers, mixed with ordinary text.
PIECES = st.sampled_from(
    [
        "[",
        "](",
        ")",
        "<",
        ">",
        "![",
        "javascript:",
        "JaVaScRiPt:",
        "vbscript:",
        "data:text/html,",
        "https://example.org/",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        '" onmouseover="x',
        "<a href='javascript:1'>",
        "<iframe>",
        "<style>",
        "&#x6a;avascript:",
        "\n",
        "\n\n",
        "- ",
        "1. ",
        "**",
        "`",
        "```\n",
        "> ",
        "    ",
        " ",
        "\\",
        "<!--",
        "![a](x)",
        "-->",
    ]
)
MARKDOWN = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=40).map("".join)
_ATTRIBUTE = re.compile(r"<[^>]*\s(on[a-z]+)\s*=", re.IGNORECASE)
_ALLOWED_TAGS = {
    "p", "a", "ul", "ol", "li", "strong", "em", "b", "i", "br", "img", "code", "blockquote",
}  # fmt: skip


@given(MARKDOWN)
def test_any_markdown_renders_to_safe_html_and_plain_text(source: str) -> None:
    links: list[tuple[str, str]] = []

    def on_link(href: str, words: str) -> str:
        links.append((href, words))
        return f"https://marker.example.org/{len(links)}"

    prose = render_prose(source, on_link)

    html = str(prose.html)
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<iframe" not in lowered
    assert "<style" not in lowered
    for value in re.findall(r'(?:href|src)="([^"]*)"', html):
        compact = re.sub(r"[\s\x00-\x1f]", "", value).lower()
        if ":" in compact.split("/", 1)[0]:  # it names a scheme: only the web's
            assert compact.split(":", 1)[0] in {"https", "http"}, value
    assert _ATTRIBUTE.search(html) is None
    tags = {t.lower() for t in re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)}
    assert tags <= _ALLOWED_TAGS
    # Every link in the HTML is one handed to on_link: no address the author wrote survives.
    for href in re.findall(r'<a href="([^"]*)"', html):
        assert href.startswith("https://marker.example.org/")
    assert isinstance(prose.text, str)
