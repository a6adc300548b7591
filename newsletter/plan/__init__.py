"""The campaign plan: ``campaigns/`` read, checked and turned into typed objects."""

from newsletter.plan.loader import PlanInvalid, load_checked_plan, load_plan
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
    "PlanInvalid",
    "Section",
    "SendSlot",
    "Source",
    "Theme",
    "load_checked_plan",
    "load_plan",
]
