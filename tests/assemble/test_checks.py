"""The build checks, the Markdown renderer and the link markers, on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.assemble.checks import check_contrast, check_variant, contrast_ratio
from newsletter.assemble.links import (
    LinkRegistry,
    href_for,
    marker,
    markers_in,
    resolve_markers,
)
from newsletter.assemble.markdown import render_prose
from newsletter.config import Settings
from newsletter.models import Link, LinkKind
from tests.conftest import make_settings

UNSUB = "http://127.0.0.1:8000/u/__NL_SUBSCRIBER__"
GOOD_TEXT = f"Hello\nUnsubscribe: {UNSUB}\n"


def page(body: str) -> str:
    return f'<html><body>{body}<a href="{UNSUB}">Unsubscribe from these bulletins</a></body></html>'


def results(settings: Settings, html: str, *, text: str = GOOD_TEXT, size: int = 1000, targets=()):
    return {
        r.name: r
        for r in check_variant(
            settings, agency="health", html=html, text=text, sample_bytes=size, targets=targets
        )
    }


def test_a_clean_variant_passes_every_check(plain_settings: Settings) -> None:
    checks = results(
        plain_settings,
        page(
            '<img src="https://x.example.org/a.png" alt=""><a href="https://x.org">ICON course</a>'
        ),
    )
    assert {name: r.passed for name, r in checks.items()} == {
        "size": True,
        "alt-text": True,
        "link-text": True,
        "absolute-links": True,
        "text-part": True,
        "unsubscribe": True,
    }
    assert all(r.agency == "health" for r in checks.values())


def test_html_of_100_kb_or_more_fails_the_size_check(plain_settings: Settings) -> None:
    assert results(plain_settings, page(""), size=100 * 1024 - 1)["size"].passed
    failed = results(plain_settings, page(""), size=100 * 1024)["size"]
    assert not failed.passed
    assert "100.0 KB" in failed.detail


def test_an_image_without_alt_text_fails(plain_settings: Settings) -> None:
    check = results(plain_settings, page('<img src="https://x.example.org/logo.png">'))["alt-text"]
    assert not check.passed
    assert "https://x.example.org/logo.png" in check.detail


@pytest.mark.parametrize("words", ["click here", "Here", "Read more...", "more", "Click here!"])
def test_link_text_that_says_nothing_out_of_context_fails(
    plain_settings: Settings, words: str
) -> None:
    check = results(plain_settings, page(f'<a href="https://x.org/a">{words}</a>'))["link-text"]
    assert not check.passed
    assert words.strip() in check.detail


def test_link_text_that_ends_with_here_but_says_where_it_goes_passes(
    plain_settings: Settings,
) -> None:
    html = page('<a href="https://x.org/a">Book on the eLearning course here</a>')
    assert results(plain_settings, html)["link-text"].passed


def test_a_relative_link_or_registered_target_fails_the_absolute_links_check(
    plain_settings: Settings,
) -> None:
    html = page('<a href="/courses/1">The neglect course</a>')
    check = results(plain_settings, html)["absolute-links"]
    assert not check.passed
    assert "/courses/1" in check.detail
    behind_redirect = results(plain_settings, page(""), targets=["courses/2"])["absolute-links"]
    assert not behind_redirect.passed
    assert "courses/2" in behind_redirect.detail


def test_a_missing_text_part_or_unsubscribe_link_fails(plain_settings: Settings) -> None:
    assert not results(plain_settings, page(""), text="  \n")["text-part"].passed
    no_unsub_text = results(plain_settings, page(""), text="Hello")["unsubscribe"]
    assert not no_unsub_text.passed
    assert "text" in no_unsub_text.detail
    no_unsub_html = results(plain_settings, "<html><body><p>Hi</p></body></html>")["unsubscribe"]
    assert not no_unsub_html.passed
    assert "HTML" in no_unsub_html.detail


def test_contrast_follows_the_wcag_formula() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#fff", "#fff") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


def test_the_default_branding_passes_the_contrast_check(plain_settings: Settings) -> None:
    check = check_contrast(plain_settings)
    assert check.passed
    assert check.agency is None


def test_pale_link_colours_or_unreadable_colour_values_fail_the_contrast_check(
    tmp_path: Path,
) -> None:
    pale = check_contrast(make_settings(tmp_path, brand_colour="#8ab4f8"))
    assert not pale.passed
    assert "links on background" in pale.detail
    bad = check_contrast(make_settings(tmp_path, text_colour="black"))
    assert not bad.passed
    assert "'black' is not a #rgb or #rrggbb colour" in bad.detail


def test_markdown_is_sanitised_and_its_links_are_registered() -> None:
    registry = LinkRegistry()

    def on_link(href: str, words: str) -> str:
        return registry.add(section="S", kind=LinkKind.other, url=href, title=words)

    prose = render_prose(
        "See **the** [regional guidance](https://x.org/g?a=1&b=2).\n\n<script>alert(1)</script>"
        "\n\n## A heading\n\n- one\n- [two](https://y.org)",
        on_link,
    )
    assert [(s.url, s.title) for s in registry.specs] == [
        ("https://x.org/g?a=1&b=2", "regional guidance"),
        ("https://y.org", "two"),
    ]
    assert f'<a href="{marker(1)}">regional guidance</a>' in prose.html
    assert "<script>" not in prose.html
    assert "<h2>" not in prose.html  # the template owns the headings
    assert prose.text.startswith(f"See the regional guidance ({marker(1)}).")
    assert f"- two ({marker(2)})" in prose.text


def test_link_markers_resolve_to_each_agencys_href() -> None:
    body = f"a {marker(1)} b {marker(12)}"
    assert markers_in(body) == {1, 12}
    assert resolve_markers(body, {1: "X", 12: "Y"}) == "a X b Y"


def test_mailto_links_in_prose_are_left_as_they_are(plain_settings: Settings) -> None:
    link = Link(id=3, bulletin_id=1, position=1, kind=LinkKind.other, url="mailto:lado@example.org")
    assert href_for(plain_settings, link, month="2026-07", agency="health") == (
        "mailto:lado@example.org"
    )
    web = Link(id=4, bulletin_id=1, position=2, kind=LinkKind.other, url="https://x.org/a")
    assert href_for(plain_settings, web, month="2026-07", agency="health") == (
        "http://127.0.0.1:8000/c/__NL_TOKEN__/4"
    )
