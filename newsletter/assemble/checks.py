"""Checks run on every build; a bulletin whose checks fail cannot be approved.

Per variant: HTML size after inlining (Gmail clips past ~102 KB), alt text on every image,
descriptive link text, absolute links only, a text part, an unsubscribe link in both parts.
Once per build: the colour contrast of the template's colours (WCAG 2 formula, >= 4.5:1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import lxml.html

from newsletter import urls
from newsletter.config import Settings

MAX_HTML_BYTES = 100 * 1024
MIN_CONTRAST = 4.5

# Link words that mean nothing out of context (screen-reader users often list links alone).
VAGUE_LINK_TEXT = frozenset(
    {
        "click here",
        "click",
        "here",
        "read more",
        "more",
        "learn more",
        "find out more",
        "more info",
        "more information",
        "link",
        "this link",
        "this",
        "go",
        "continue",
    }
)

_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    agency: str | None = None  # None: the check is about the whole bulletin

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- colours ---------------------------------------------------------------------------------


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a '#rgb' or '#rrggbb' colour (ValueError otherwise)."""
    match = _HEX.match(colour.strip())
    if match is None:
        raise ValueError(f"{colour!r} is not a #rgb or #rrggbb colour")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(foreground: str, background: str) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter over the darker: 1.0 to 21.0."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)


def colour_pairs(settings: Settings) -> list[tuple[str, str, str]]:
    """(what, foreground, background) for every text colour the template puts on a fill."""
    return [
        ("text on background", settings.text_colour, settings.background_colour),
        ("links on background", settings.brand_colour, settings.background_colour),
        ("text on accent panels", settings.text_colour, settings.accent_colour),
        ("white masthead and button text on brand colour", "#ffffff", settings.brand_colour),
    ]


def check_contrast(settings: Settings) -> CheckResult:
    problems, ratios = [], []
    for what, fg, bg in colour_pairs(settings):
        try:
            ratio = contrast_ratio(fg, bg)
        except ValueError as exc:
            problems.append(f"{what}: {exc}")
            continue
        ratios.append(f"{what} {ratio:.1f}:1")
        if ratio < MIN_CONTRAST:
            problems.append(f"{what} ({fg} on {bg}) is {ratio:.2f}:1, below {MIN_CONTRAST}:1")
    if problems:
        return CheckResult("contrast", False, "; ".join(problems))
    return CheckResult("contrast", True, ", ".join(ratios))


# --- one variant -----------------------------------------------------------------------------


def _is_absolute(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return bool(parts.path)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def check_variant(
    settings: Settings,
    *,
    agency: str,
    html: str,
    text: str,
    sample_bytes: int,
    targets: Iterable[str],
) -> list[CheckResult]:
    """The checks of one variant. ``html``/``text`` are the stored bodies (placeholders in);
    ``sample_bytes`` is the HTML size with realistic values filled in; ``targets`` are the
    registered targets of the links this variant shows (behind the click redirect)."""
    doc = lxml.html.document_fromstring(html)
    results: list[CheckResult] = []

    kb = sample_bytes / 1024
    results.append(
        CheckResult(
            "size",
            sample_bytes < MAX_HTML_BYTES,
            f"{kb:.1f} KB of HTML after inlining (limit {MAX_HTML_BYTES // 1024} KB)",
            agency,
        )
    )

    missing_alt = [img.get("src", "?") for img in doc.iter("img") if img.get("alt") is None]
    results.append(
        CheckResult(
            "alt-text",
            not missing_alt,
            f"images without alt text: {', '.join(missing_alt)}"
            if missing_alt
            else "every image has alt text",
            agency,
        )
    )

    vague = []
    for anchor in doc.iter("a"):
        if anchor.get("aria-hidden") == "true":
            continue  # the honeypot: nobody is meant to read it
        words = _words(anchor.text_content())
        if not words:
            words = _words(" ".join(img.get("alt", "") for img in anchor.iter("img")))
        if not words:
            vague.append("(a link with no words)")
        elif words in VAGUE_LINK_TEXT:
            vague.append(repr(anchor.text_content().strip()))
    results.append(
        CheckResult(
            "link-text",
            not vague,
            f"links that say nothing out of context: {', '.join(vague)}"
            if vague
            else "every link says where it goes",
            agency,
        )
    )

    relative = [
        url
        for url in [
            *(a.get("href", "") for a in doc.iter("a")),
            *(img.get("src", "") for img in doc.iter("img")),
            *targets,
        ]
        if not _is_absolute(url)
    ]
    results.append(
        CheckResult(
            "absolute-links",
            not relative,
            f"not absolute http(s) links: {', '.join(sorted(set(relative)))}"
            if relative
            else "every link and image is absolute",
            agency,
        )
    )

    results.append(
        CheckResult(
            "text-part",
            bool(text.strip()),
            f"{len(text)} characters" if text.strip() else "the text part is empty",
            agency,
        )
    )

    unsubscribe = urls.unsubscribe_url(settings)
    in_html = any(a.get("href") == unsubscribe for a in doc.iter("a"))
    in_text = unsubscribe in text
    missing = [part for part, ok in (("HTML", in_html), ("text", in_text)) if not ok]
    results.append(
        CheckResult(
            "unsubscribe",
            not missing,
            f"no unsubscribe link in the {' and '.join(missing)} part"
            if missing
            else "unsubscribe link in HTML and text",
            agency,
        )
    )
    return results
