"""Every link of a bulletin, registered once with its meaning, then resolved per agency.

While the content is walked (:mod:`newsletter.assemble.content`), each link gets a *marker*
(``__NL_LINK_<position>__``) in place of its href. After a variant has been rendered, the markers
are replaced with what that agency's readers should get: our click redirect
(``/c/<TOKEN>/<link id>``, the TOKEN placeholder left for the send) when tracking is on, or the
target with our UTM parameters when tracking is off. The Link rows are what the click redirect
reads: targets come from the database, never from a URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlmodel import Session

from newsletter import urls
from newsletter.config import Settings
from newsletter.models import Link, LinkKind

_MARKER = re.compile(r"__NL_LINK_([0-9]+)__")

# Column limits of the link table (newsletter.models.bulletins.Link).
_SECTION_MAX = 200
_TITLE_MAX = 300


def marker(position: int) -> str:
    return f"__NL_LINK_{position}__"


@dataclass(frozen=True)
class LinkSpec:
    """A link as the content walk found it, before it has a database id."""

    position: int
    section: str
    kind: LinkKind
    catalogue_id: str | None
    title: str
    url: str  # the target, without UTM parameters
    agencies: tuple[str, ...] | None  # None: shown to every agency


@dataclass
class LinkRegistry:
    """Collects the bulletin's links in reading order; positions start at 1."""

    specs: list[LinkSpec] = field(default_factory=list)

    def add(
        self,
        *,
        section: str,
        kind: LinkKind,
        url: str,
        title: str,
        catalogue_id: str | None = None,
        agencies: tuple[str, ...] | None = None,
    ) -> str:
        """Register a link and return the marker that stands for it in the rendered body."""
        spec = LinkSpec(
            position=len(self.specs) + 1,
            section=section[:_SECTION_MAX],
            kind=kind,
            catalogue_id=catalogue_id,
            title=title[:_TITLE_MAX],
            url=url,
            agencies=tuple(sorted(agencies)) if agencies is not None else None,
        )
        self.specs.append(spec)
        return marker(spec.position)

    def save(self, session: Session, bulletin_id: int) -> dict[int, Link]:
        """Insert one Link row per spec; returns them by position (ids assigned)."""
        rows = {
            spec.position: Link(
                bulletin_id=bulletin_id,
                position=spec.position,
                section=spec.section,
                kind=spec.kind,
                catalogue_id=spec.catalogue_id,
                title=spec.title,
                url=spec.url,
                agencies=list(spec.agencies) if spec.agencies is not None else None,
            )
            for spec in self.specs
        }
        session.add_all(rows.values())
        session.flush()
        return rows


def href_for(settings: Settings, link: Link, *, month: str, agency: str) -> str:
    """What a link's href is in ``agency``'s variant (see the module docstring)."""
    if link.url.lower().startswith("mailto:"):
        return link.url  # a mail client opens it; neither a redirect nor UTM applies
    if settings.tracking != "off":
        assert link.id is not None
        return urls.click_url(settings, link.id)
    if link.kind in {LinkKind.feedback, LinkKind.honeypot}:
        return link.url  # our own pages: no campaign parameters
    return urls.with_utm(link.url, month=month, agency=agency)


def resolve_markers(body: str, hrefs: Mapping[int, str]) -> str:
    """Replace every link marker in ``body`` with its href (KeyError for an unknown one)."""
    return _MARKER.sub(lambda m: hrefs[int(m.group(1))], body)


def markers_in(body: str) -> set[int]:
    """The positions of the links a rendered body contains."""
    return {int(m) for m in _MARKER.findall(body)}
