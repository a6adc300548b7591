"""What makes a link acceptable in a bulletin: an absolute web address and words that say where
it goes. Used by the plan loader, and available to assembly's build-time checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from markdown_it import MarkdownIt

# Link words that say nothing about where the link goes. Screen-reader users often list a page's
# links out of context, so "here" or "read more" tells them nothing (WCAG 2.4.4).
_VAGUE = frozenset(
    {
        "click",
        "click here",
        "click this link",
        "here",
        "this",
        "this link",
        "link",
        "read more",
        "more",
        "more info",
        "more information",
        "find out more",
        "learn more",
        "see more",
        "go",
        "download",
        "view",
        "website",
        "this page",
        "this website",
    }
)
_CLICK_HERE = re.compile(r"\bclick\s+(here|this)\b|^click\b", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def is_vague_link_text(text: str) -> bool:
    """True when ``text`` does not say where its link goes ("click here", "read more"...)."""
    words = _SPACE.sub(" ", text).strip().strip(".:!>»›").strip().lower()
    return not words or words in _VAGUE or bool(_CLICK_HERE.search(words))


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a bulletin link, in plain English; None when it is fine.

    A link in an email must be an absolute ``http``/``https`` address with a host: a relative
    link has nothing to be relative to in a mail client.
    """
    if url != url.strip() or any(ch.isspace() for ch in url):
        return f"{url!r} has spaces in it; a web address has none"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"{url!r} is not a valid web address"
    if parts.scheme not in {"http", "https"}:
        return f"{url!r} is not a full web address; it must start with https:// (or http://)"
    if not parts.hostname or "." not in parts.hostname:
        return f"{url!r} has no proper site name after {parts.scheme}://"
    return None


@dataclass(frozen=True)
class MarkdownLink:
    text: str
    url: str


def markdown_links(markdown: str) -> Iterator[MarkdownLink]:
    """Every link written in a Markdown text: ``[words](address)`` and bare ``<address>``."""
    md = MarkdownIt("commonmark")
    for block in md.parse(markdown):
        children = block.children or []
        href: str | None = None
        words: list[str] = []
        for token in children:
            if token.type == "link_open":
                href = str(token.attrGet("href") or "")
                words = []
            elif token.type == "link_close" and href is not None:
                yield MarkdownLink(text="".join(words), url=href)
                href = None
            elif href is not None and token.type in {"text", "code_inline"}:
                words.append(token.content)
