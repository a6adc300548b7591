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
from newsletter.plan.slots import SlotError, next_slot_after, send_time
from newsletter.plan.timetable import SendInfo, timetable

__all__ = [
    "CatalogueItem",
    "ItemKind",
    "ItemUse",
    "LoadResult",
    "Plan",
    "PlanError",
    "PlanInvalid",
    "Section",
    "SendInfo",
    "SendSlot",
    "SlotError",
    "Source",
    "Theme",
    "load_checked_plan",
    "load_plan",
    "next_slot_after",
    "send_time",
    "timetable",
]
