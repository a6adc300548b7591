"""A theme walked once into what the templates show, with every link registered on the way.

:func:`walk_theme` renders each piece of Markdown once and registers every link (plan items,
links inside the prose, the "Was this useful?" answers and the hidden honeypot) in reading
order. :meth:`Content.for_agency` then picks what one agency sees: items targeted at other
agencies are left out, and a section left with no items is left out with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from newsletter.assemble.links import LinkRegistry
from newsletter.assemble.markdown import Prose, render_prose
from newsletter.config import Settings
from newsletter.models import LinkKind
from newsletter.plan.model import ItemUse, Section, Theme

FEEDBACK_PATH = "/feedback"
HONEYPOT_PATH = "/archive"


@dataclass(frozen=True)
class ItemView:
    kind: str
    catalogue_id: str
    title: str
    summary: Prose
    note: Prose | None
    points: tuple[str, ...]
    href: str  # a link marker until the variant's links are resolved
    link_text: str
    format: str | None
    booking_closes: date | None
    agencies: tuple[str, ...] | None

    def shown_to(self, agency: str) -> bool:
        return self.agencies is None or agency in self.agencies


@dataclass(frozen=True)
class SectionView:
    title: str
    anchor: str
    intro: Prose | None
    items: tuple[ItemView, ...]
    feedback_yes: str | None  # link markers, or None when the section asks for no feedback
    feedback_no: str | None


@dataclass(frozen=True)
class Content:
    intro: Prose
    sections: tuple[SectionView, ...]
    honeypot: str | None  # link marker of the hidden link, or None when tracking is off

    def for_agency(self, agency: str) -> Content:
        """What ``agency``'s readers see: their items only; sections left empty omitted."""
        kept = []
        for section in self.sections:
            items = tuple(item for item in section.items if item.shown_to(agency))
            if items:
                kept.append(replace(section, items=items))
        return replace(self, sections=tuple(kept))


def _anchor(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    anchor, n = base, 2
    while anchor in taken:
        anchor, n = f"{base}-{n}", n + 1
    taken.add(anchor)
    return anchor


def _section_audience(section: Section, agencies: list[str]) -> tuple[str, ...] | None:
    """The agencies that see at least one item of ``section`` (None: all of them)."""
    seeing = [a for a in agencies if any(use.shown_to(a) for use in section.items)]
    return None if len(seeing) == len(agencies) else tuple(seeing)


def _prose(
    source: str, registry: LinkRegistry, *, section: str, agencies: tuple[str, ...] | None
) -> Prose:
    def on_link(href: str, words: str) -> str:
        return registry.add(
            section=section, kind=LinkKind.other, url=href, title=words, agencies=agencies
        )

    return render_prose(source, on_link)


def _item(use: ItemUse, registry: LinkRegistry, *, section: str) -> ItemView:
    item = use.item
    targets = use.target_agencies
    summary = _prose(item.summary, registry, section=section, agencies=targets)
    note = _prose(use.note, registry, section=section, agencies=targets) if use.note else None
    href = registry.add(
        section=section,
        kind=LinkKind(item.kind.value),
        url=item.url,
        title=item.title,
        catalogue_id=item.id,
        agencies=targets,
    )
    return ItemView(
        kind=item.kind.value,
        catalogue_id=item.id,
        title=item.title,
        summary=summary,
        note=note,
        points=item.points,
        href=href,
        link_text=item.link_text,
        format=item.format,
        booking_closes=item.booking_closes,
        agencies=targets,
    )


def walk_theme(
    settings: Settings, theme: Theme, registry: LinkRegistry, *, agencies: list[str]
) -> Content:
    """Render the theme's prose once and register all its links, in reading order."""
    intro = _prose(theme.intro, registry, section="Introduction", agencies=None)
    taken: set[str] = set()
    sections = []
    feedback_url = f"{settings.public_base_url}{FEEDBACK_PATH}"
    tracking = settings.tracking != "off"
    for section in theme.sections:
        audience = _section_audience(section, agencies)
        section_intro = (
            _prose(section.intro, registry, section=section.title, agencies=audience)
            if section.intro
            else None
        )
        items = tuple(_item(use, registry, section=section.title) for use in section.items)
        yes = no = None
        # Feedback is recorded by the click redirect, so without tracking it would be lost.
        if section.feedback and tracking:
            yes, no = (
                registry.add(
                    section=section.title,
                    kind=LinkKind.feedback,
                    url=feedback_url,
                    title=f"{section.title}: {answer}",
                    catalogue_id=answer,
                    agencies=audience,
                )
                for answer in ("yes", "no")
            )
        sections.append(
            SectionView(
                title=section.title,
                anchor=_anchor(section.title, taken),
                intro=section_intro,
                items=items,
                feedback_yes=yes,
                feedback_no=no,
            )
        )
    honeypot = None
    if tracking:
        honeypot = registry.add(
            section="",
            kind=LinkKind.honeypot,
            url=f"{settings.public_base_url}{HONEYPOT_PATH}",
            title="Hidden link for detecting link scanners",
        )
    return Content(intro=intro, sections=tuple(sections), honeypot=honeypot)
