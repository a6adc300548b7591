"""Plans built in code, shaped like the July 2026 Non-Accidental Injuries bulletin."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from newsletter.models import Audience
from newsletter.plan.model import CatalogueItem, ItemKind, ItemUse, Plan, Section, SendSlot, Theme

BASE = "https://learning.example.org"


def make_item(item_id: str, kind: ItemKind = ItemKind.resource, **overrides: Any) -> CatalogueItem:
    values: dict[str, Any] = {
        "id": item_id,
        "kind": kind,
        "title": item_id.replace("-", " ").title(),
        "summary": f"What {item_id} is about, in a sentence or two.",
        "url": f"{BASE}/{kind.value}s/{item_id}",
        "link_text": f"Open {item_id.replace('-', ' ')}",
    }
    if kind is ItemKind.course:
        values.update(format="eLearning", booking_closes=date(2026, 7, 31))
    values.update(overrides)
    return CatalogueItem(**values)


def make_theme(month: str = "2026-07", **overrides: Any) -> Theme:
    review = make_item("cspr-baby-h", ItemKind.review, title="CSPR: Baby H")
    icon = make_item(
        "icon",
        summary=(
            "ICON: Babies Cry, You Can Cope! See the [ICON programme pages]"
            "(https://iconcope.example.org/) and the regional guidance."
        ),
        link_text="Visit our ICON webpage",
    )
    medicals = make_item(
        "cp-medicals",
        title="Child protection medicals",
        link_text="Read the medical examinations standards",
        agencies=("health", "police", "childrens-social-care"),
    )
    courses = [
        make_item(
            "icon-elearning",
            ItemKind.course,
            title="ICON: Babies cry, you can cope",
            link_text="Book on the ICON eLearning course",
        ),
        make_item(
            "child-neglect",
            ItemKind.course,
            title="Child Neglect",
            format="Virtual classroom",
            link_text="Book on the Child Neglect course",
            points=("Basic understanding of neglect", "The four models of neglect"),
        ),
        make_item(
            "cp-conferences",
            ItemKind.course,
            title="Child Protection Conferences",
            link_text="View dates for the Child Protection Conferences course",
        ),
    ]
    briefing = make_item(
        "safer7-nai",
        ItemKind.briefing,
        title="Safer7: Non-Accidental Injury",
        link_text="View the Safer7 on Non-Accidental Injury",
    )
    values: dict[str, Any] = {
        "month": month,
        "title": "Non-Accidental Injuries",
        "subject": "July learning: Non-Accidental Injuries",
        "preheader": "Reviews, resources and six courses on NAI",
        "audiences": (Audience.children,),
        "intro": "During July the focus is on **Non-Accidental Injuries** (NAI).",
        "sections": (
            Section(title="Reviews", items=(ItemUse(review),)),
            Section(
                title="Helpful resources",
                intro="Resources linked to the theme.",
                items=(ItemUse(icon), ItemUse(medicals, note="For health colleagues first.")),
            ),
            Section(title="Training courses", items=tuple(ItemUse(c) for c in courses)),
            Section(title="Safer7 briefings", items=(ItemUse(briefing),), feedback=False),
        ),
    }
    values.update(overrides)
    return Theme(**values)


def make_plan(*themes: Theme, digest: str = "a" * 64, **overrides: Any) -> Plan:
    themes = themes or (make_theme(),)
    catalogue = {use.item.id: use.item for theme in themes for use in theme.items()}
    values: dict[str, Any] = {
        "slot": SendSlot(),
        "draft_lead_days": 7,
        "catalogue": catalogue,
        "themes": {theme.month: theme for theme in themes},
        "digest": digest,
    }
    values.update(overrides)
    return Plan(**values)


def with_digest(plan: Plan, digest: str) -> Plan:
    return replace(plan, digest=digest)
