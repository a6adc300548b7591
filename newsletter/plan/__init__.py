"""The campaign plan: ``campaigns/`` read, checked and turned into typed objects."""

from newsletter.plan.model import (
    CatalogueItem,
    ItemKind,
    ItemUse,
    LoadResult,
    Plan,
    PlanError,
    Section,
    SendSlot,
    Source,
    Theme,
)

__all__ = [
    "CatalogueItem",
    "ItemKind",
    "ItemUse",
    "LoadResult",
    "Plan",
    "PlanError",
    "Section",
    "SendSlot",
    "Source",
    "Theme",
]
