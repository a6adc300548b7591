"""The campaign plan: ``campaigns/`` read, checked and turned into typed objects."""

from newsletter.plan.loader import PlanInvalid, agency_slugs, load_plan
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
from newsletter.plan.store import (
    RevisionNotFound,
    current_plan,
    current_revision,
    diff_revisions,
    export_documents,
    get_revision,
    import_directory,
    import_first,
    load_checked_plan,
    plan_of,
    restore_revision,
    revisions,
)
from newsletter.plan.timetable import SendInfo, timetable

__all__ = [
    "CatalogueItem",
    "ItemKind",
    "ItemUse",
    "LoadResult",
    "Plan",
    "PlanError",
    "PlanInvalid",
    "RevisionNotFound",
    "Section",
    "SendInfo",
    "SendSlot",
    "SlotError",
    "Source",
    "Theme",
    "agency_slugs",
    "current_plan",
    "current_revision",
    "diff_revisions",
    "export_documents",
    "get_revision",
    "import_directory",
    "import_first",
    "load_checked_plan",
    "load_plan",
    "next_slot_after",
    "plan_of",
    "restore_revision",
    "revisions",
    "send_time",
    "timetable",
]
