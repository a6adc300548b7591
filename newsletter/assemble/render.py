"""Templates to a variant: Jinja2 over ``templates/``, CSS inlined once with premailer.

One :class:`Renderer` per build holds the Jinja2 environment (autoescape for ``*.html.j2``,
none for ``*.txt.j2`` and ``*.css``; ``StrictUndefined``, so a misspelt variable is an error,
not a silent blank). The HTML is inlined once per variant; per-recipient values stay as the
placeholders of :mod:`newsletter.personalise` and survive inlining unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

import cssutils
from jinja2 import Environment
from premailer import Premailer

from newsletter.config import Settings
from newsletter.plan import key_label
from newsletter.templating import make_environment

HTML_TEMPLATE = "bulletin.html.j2"
TEXT_TEMPLATE = "bulletin.txt.j2"


def long_date(value: date) -> str:
    """'Friday 24 July 2026' (GOV.UK style: no leading zero, no comma)."""
    return f"{value:%A} {value.day} {value:%B %Y}"


def month_label(month: str) -> str:
    """'2026-07' -> 'July 2026'; an extra edition '2026-07-correction' -> 'July 2026
    (correction)'."""
    return key_label(month)


def bulletin_environment(settings: Settings) -> Environment:
    """The designers' templates (``templates/``), with the bulletin's filters."""
    return make_environment(
        settings.templates_dir, filters={"long_date": long_date}, email_whitespace=True
    )


@dataclass(frozen=True)
class Rendered:
    html: str  # CSS inlined; link markers not yet resolved
    text: str


class Renderer:
    """Renders and inlines variants with one environment (templates compiled once)."""

    def __init__(self, settings: Settings) -> None:
        self._env = bulletin_environment(settings)

    def render(self, context: dict[str, Any]) -> Rendered:
        html = self._env.get_template(HTML_TEMPLATE).render(**context)
        text = self._env.get_template(TEXT_TEMPLATE).render(**context)
        return Rendered(html=inline_css(html), text=text)

    def render_html_source(self, context: dict[str, Any]) -> str:
        """The HTML before inlining (the naive per-recipient path of bench/render uses it)."""
        return self._env.get_template(HTML_TEMPLATE).render(**context)

    def render_text(self, context: dict[str, Any]) -> str:
        return self._env.get_template(TEXT_TEMPLATE).render(**context)


def inline_css(html: str) -> str:
    """Move the <style> rules into style attributes; @media rules stay as leftover CSS."""
    # cssutils logs a warning for every mso-*/-webkit-* property it does not know; those
    # properties are kept either way, so the noise would only hide real problems. (Premailer's
    # own logging options add a handler per call instead of silencing.)
    cssutils.log.setLevel(logging.CRITICAL)
    return str(
        Premailer(
            html,
            allow_network=False,
            allow_loading_external_files=False,
            disable_validation=True,
            keep_style_tags=False,
            # The leftover @media rules must keep !important to win over the inlined styles.
            strip_important=False,
        ).transform()
    )
