"""What makes a link acceptable in a bulletin: an absolute web address and words that say where
it goes. Used by the plan loader, and available to assembly's build-time checks.
"""

from __future__ import annotations

import ipaddress
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


# Schemes that run or embed something instead of opening a page: never in a bulletin.
_UNSAFE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob"})
_SCHEME = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.-]*)\s*:")
# Characters a web address never holds unescaped (RFC 3986): quotes and angle brackets are how
# an address breaks out of an HTML attribute ("><script>).
_NOT_IN_URL = frozenset('"<>\\^`{|}')
URL_MAX = 2000  # characters; longer addresses break in some mail clients


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a bulletin link, in plain English; None when it is fine.

    A link in an email must be an absolute ``http``/``https`` address with a host: a relative
    link has nothing to be relative to in a mail client. Script and data addresses, characters
    that could break out of an HTML attribute, user names before the site name (a disguise:
    ``https://trusted.org@elsewhere.com``) and numbered addresses are refused.
    """
    shown = _shorten(url)
    scheme = _SCHEME.match(url)
    if scheme is not None and scheme.group(1).lower() in _UNSAFE_SCHEMES:
        return (
            f"{shown} is a {scheme.group(1).lower()}: address, which runs or embeds something "
            "instead of opening a page; links in a bulletin must start with https://"
        )
    if url != url.strip() or any(ch.isspace() for ch in url):
        return f"{shown} has spaces in it; a web address has none"
    if any(not ch.isprintable() for ch in url):
        return f"{shown} holds a control character; a web address has none"
    odd = sorted({ch for ch in url if ch in _NOT_IN_URL})
    if odd:
        return (
            f"{shown} holds {' '.join(odd)}, which a web address cannot hold; "
            "copy the address again from the browser's address bar"
        )
    if len(url) > URL_MAX:
        return f"the address is {len(url):,} characters long; keep it under {URL_MAX:,}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return f"{shown} is not a valid web address"
    if parts.scheme not in {"http", "https"}:
        return f"{shown} is not a full web address; it must start with https:// (or http://)"
    if not parts.hostname or "." not in parts.hostname:
        return f"{shown} has no proper site name after {parts.scheme}://"
    if "@" in parts.netloc:
        return (
            f"{shown} has a user name before the site name, which disguises where the link "
            "goes; remove the part before @"
        )
    if _is_ip_address(parts.hostname):
        return f"{shown} uses a numbered address; use the site's name instead"
    if parts.hostname.endswith(".") or ".." in parts.hostname:
        return f"{shown} has no proper site name after {parts.scheme}://"
    return None


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _shorten(url: str, limit: int = 100) -> str:
    return repr(url if len(url) <= limit else url[: limit - 1] + "…")


@dataclass(frozen=True)
class MarkdownLink:
    text: str
    url: str
    line: int = 1  # within the Markdown text
    image: bool = False


def _accept_every_link(url: str) -> bool:
    return True


def markdown_links(markdown: str) -> Iterator[MarkdownLink]:
    """Every link written in a Markdown text: ``[words](address)``, bare ``<address>`` and
    images' addresses, with ``line`` counted from the text's first line (1-based).

    markdown-it quietly leaves ``javascript:``/``vbscript:``/``file:``/``data:`` links as plain
    text; here every address is reported, so that the checker can refuse the unsafe ones
    instead of letting them reach a bulletin as literal text. Raw HTML is off, as when the
    bulletin is rendered (``newsletter.assemble.render_prose``): otherwise a text opening
    with a tag such as ``<div>`` would be one HTML block whose links went unchecked, while
    the bulletin shows the tag as text and its links as links.
    """
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = _accept_every_link  # type: ignore[method-assign]
    for block in md.parse(markdown):
        children = block.children or []
        line = block.map[0] + 1 if block.map else 1
        href: str | None = None
        words: list[str] = []
        for token in children:
            if token.type in {"softbreak", "hardbreak"}:
                line += 1
            elif token.type == "link_open":
                href = str(token.attrGet("href") or "")
                words = []
            elif token.type == "link_close" and href is not None:
                yield MarkdownLink(text="".join(words), url=href, line=line)
                href = None
            elif token.type == "image":
                src = str(token.attrGet("src") or "")
                yield MarkdownLink(text=token.content, url=src, line=line, image=True)
            elif href is not None and token.type in {"text", "code_inline"}:
                words.append(token.content)


def markdown_link_problems(markdown: str) -> Iterator[tuple[int, str]]:
    """What ``plan check`` says about the links written in a Markdown text, each with its line
    in the text (1-based): addresses a bulletin cannot hold (``javascript:``, ``data:``...) and
    link words that do not say where the link goes."""
    for link in markdown_links(markdown):
        where = "an image in this text" if link.image else "a link in this text"
        problem = url_problem(link.url)
        if problem:
            yield link.line, f"{where}: {problem}"
        if not link.image and is_vague_link_text(link.text):
            yield (
                link.line,
                f"a link in this text says {link.text!r}, which does not say where it goes; "
                "name the page or course instead",
            )
