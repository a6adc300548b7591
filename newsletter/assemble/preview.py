"""A month's variant for one agency rendered for a person to look at, without storing anything.

The staff editor previews a month before it is saved: the same content walk, templates and CSS
inlining as :func:`~newsletter.assemble.build.build_bulletin`, but links point straight at their
targets (nothing is registered or tracked) and the greeting uses a sample name.
"""

from __future__ import annotations

import html

from newsletter.assemble.build import render_context
from newsletter.assemble.content import walk_theme
from newsletter.assemble.links import LinkRegistry, resolve_markers
from newsletter.assemble.render import Renderer
from newsletter.config import Settings
from newsletter.models import Agency
from newsletter.personalise import html_values, personalise
from newsletter.plan.model import Theme

SAMPLE_NAME = "Sample Reader"
PREVIEW_TOKEN = "preview"  # noqa: S105 -- in a preview's unsubscribe link; never a valid token


def preview_variant(
    settings: Settings, theme: Theme, *, agency: Agency, agencies: list[str]
) -> str:
    """The HTML ``agency``'s subscribers would get for ``theme`` (sample name, untracked links)."""
    registry = LinkRegistry()
    content = walk_theme(settings, theme, registry, agencies=agencies)
    context = render_context(
        settings,
        theme=theme,
        agency=agency,
        content=content.for_agency(agency.slug),
        greeting_name=SAMPLE_NAME,
        subscriber_token=PREVIEW_TOKEN,
        token=PREVIEW_TOKEN,
    )
    rendered = Renderer(settings).render(context)
    hrefs = {spec.position: html.escape(spec.url) for spec in registry.specs}
    body = resolve_markers(rendered.html, hrefs)
    return personalise(body, html_values({}))
