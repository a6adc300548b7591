"""The plan's Markdown (intros, summaries, notes) as safe HTML and as plain text.

Markdown is parsed once with markdown-it-py (raw HTML in the source is escaped, not passed on)
and the HTML is then sanitised with nh3 to the few tags an email body needs. Every link in the
Markdown is handed to ``on_link`` while parsing, which registers it and returns a *link marker*
(see :mod:`newsletter.assemble.links`); the marker stands in for the href in both the HTML and
the text, and is swapped for the agency's tracked or UTM-tagged URL after rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

# What a bulletin's prose may contain. No headings: the template owns the heading order.
_TAGS = {"p", "a", "ul", "ol", "li", "strong", "em", "b", "i", "br", "img", "code", "blockquote"}
_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt", "width", "height"}}

OnLink = Callable[[str, str], str]  # (href, link text) -> marker to put in its place


@dataclass(frozen=True)
class Prose:
    """One piece of Markdown, rendered: sanitised HTML and a plain-text equivalent."""

    html: Markup
    text: str


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _inline_text(children: list[Token]) -> str:
    return "".join(t.content for t in children if t.type in {"text", "code_inline"})


def _replace_links(tokens: list[Token], on_link: OnLink) -> None:
    """Swap every link's href for the marker ``on_link`` returns (tokens changed in place)."""
    for block in tokens:
        children = block.children or []
        for index, token in enumerate(children):
            if token.type != "link_open":
                continue
            # The link's own words: the inline tokens up to the matching link_close.
            depth, words = 0, []
            for inner in children[index + 1 :]:
                if inner.type == "link_open":
                    depth += 1
                elif inner.type == "link_close":
                    if depth == 0:
                        break
                    depth -= 1
                elif inner.type in {"text", "code_inline"}:
                    words.append(inner.content)
                elif inner.type == "image":
                    words.append(_inline_text(inner.children or []))
            href = str(token.attrGet("href") or "")
            token.attrSet("href", on_link(href, "".join(words).strip()))


def _plain(tokens: list[Token]) -> str:
    """Plain text from the token stream: paragraphs, '- ' bullets, 'words (url)' links."""
    out: list[str] = []
    bullets: list[int | None] = []  # None: bullet list; int: the next number of an ordered list
    for token in tokens:
        if token.type == "bullet_list_open":
            bullets.append(None)
        elif token.type == "ordered_list_open":
            bullets.append(int(token.attrGet("start") or 1))
        elif token.type in {"bullet_list_close", "ordered_list_close"}:
            bullets.pop()
            out.append("\n")
        elif token.type == "list_item_open":
            indent = "  " * (len(bullets) - 1)
            number = bullets[-1]
            if number is None:
                out.append(f"{indent}- ")
            else:
                out.append(f"{indent}{number}. ")
                bullets[-1] = number + 1
        elif token.type == "inline":
            out.append(_plain_inline(token.children or []))
        elif token.type == "paragraph_close":
            out.append("\n" if bullets else "\n\n")
        elif token.type in {"code_block", "fence"}:
            out.append(token.content + "\n")
        elif token.type == "heading_close":
            out.append("\n\n")
    return "".join(out).strip()


def _plain_inline(children: list[Token]) -> str:
    parts: list[str] = []
    href_stack: list[str] = []
    for token in children:
        if token.type in {"text", "code_inline"}:
            parts.append(token.content)
        elif token.type in {"softbreak", "hardbreak"}:
            parts.append("\n" if token.type == "hardbreak" else " ")
        elif token.type == "link_open":
            href_stack.append(str(token.attrGet("href") or ""))
        elif token.type == "link_close":
            parts.append(f" ({href_stack.pop()})")
        elif token.type == "image":
            parts.append(_inline_text(token.children or []))
    return "".join(parts)


def render_prose(source: str, on_link: OnLink) -> Prose:
    """Render ``source`` (Markdown) to sanitised HTML and plain text, registering its links."""
    parser = _parser()
    env: dict[str, Any] = {}
    tokens = parser.parse(source, env)
    _replace_links(tokens, on_link)
    raw = parser.renderer.render(tokens, parser.options, env)
    clean = nh3.clean(raw, tags=_TAGS, attributes=_ATTRIBUTES, link_rel=None)
    return Prose(html=Markup(clean.strip()), text=_plain(tokens))  # noqa: S704 -- nh3-sanitised
