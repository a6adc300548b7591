"""The campaign plan as typed objects: what ``campaigns/`` means once it has been read.

The loader (:mod:`newsletter.plan.loader`) turns the YAML files into these objects and reports
every problem with file, line and field; assembly (:mod:`newsletter.assemble`) consumes them.

Layout of ``campaigns/`` (explained for the comms team in ``campaigns/README.md``):

* ``plan.yaml``: plan-wide settings: the default send slot and the draft lead time;
* ``catalogue/*.yaml``: reusable items (courses, briefings, reviews, resources), stable ids;
* ``themes/YYYY-MM.yaml``: one file per month: its theme, subject, intro and sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum

from newsletter.models import Audience


class ItemKind(StrEnum):
    course = "course"
    briefing = "briefing"
    review = "review"
    resource = "resource"


@dataclass(frozen=True)
class Source:
    """Where something was written: for error messages and 'plan show'."""

    file: str
    line: int


@dataclass(frozen=True)
class CatalogueItem:
    id: str
    kind: ItemKind
    title: str
    summary: str  # Markdown
    url: str  # absolute http(s) URL
    link_text: (
        str  # the words of the link ("Book on the ICON eLearning course"), never "click here"
    )
    points: tuple[
        str, ...
    ] = ()  # optional bullet list ("By the end of the session, delegates will...")
    format: str | None = None  # courses: "eLearning", "Virtual classroom", "Face to face"...
    booking_closes: date | None = None  # courses: last day to book
    agencies: tuple[str, ...] | None = None  # None = relevant to every agency
    retired: bool = False  # months already using it keep it; no other month may use it
    source: Source | None = None


@dataclass(frozen=True)
class ItemUse:
    """One item placed in a month's section: a catalogue item, with this month's touches."""

    item: CatalogueItem
    note: str | None = None  # extra Markdown shown under the item this month
    agencies: tuple[str, ...] | None = None  # targeting for this month; overrides the catalogue's
    source: Source | None = None

    @property
    def target_agencies(self) -> tuple[str, ...] | None:
        return self.agencies if self.agencies is not None else self.item.agencies

    def shown_to(self, agency: str) -> bool:
        targets = self.target_agencies
        return targets is None or agency in targets


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[ItemUse, ...]
    intro: str | None = None  # Markdown
    feedback: bool = True  # end the section with "Was this useful? Yes / No"
    source: Source | None = None


@dataclass(frozen=True)
class SendSlot:
    """When a bulletin goes out: an APScheduler ``day`` expression (or a date) and a time."""

    day: str = "1st tue"  # "1st tue", "last fri", "15"
    at: time = time(9, 0)
    timezone: str = "Europe/London"


@dataclass(frozen=True)
class Theme:
    month: str  # "YYYY-MM"
    title: str  # "Non-Accidental Injuries"
    subject: str
    preheader: str
    audiences: tuple[Audience, ...]
    intro: str  # Markdown
    sections: tuple[Section, ...]
    send_date: date | None = None  # override of the plan's default slot
    send_time: time | None = None
    source: Source | None = None

    def items(self) -> list[ItemUse]:
        return [use for section in self.sections for use in section.items]


@dataclass(frozen=True)
class Plan:
    slot: SendSlot
    draft_lead_days: int
    catalogue: dict[str, CatalogueItem]
    themes: dict[str, Theme]  # by month, sorted
    files: tuple[str, ...] = ()  # every file read, for the plan hash
    digest: str = ""  # SHA-256 over those files' bytes: a changed plan makes a draft stale

    def theme(self, month: str) -> Theme:
        try:
            return self.themes[month]
        except KeyError:
            raise KeyError(f"the plan has no theme for {month}") from None


@dataclass(frozen=True)
class PlanError:
    file: str
    line: int | None
    field: str  # dotted path: "sections[2].items[0].ref"
    message: str  # plain English
    column: int | None = None  # where a file stops parsing: file:line:column

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        if self.line is not None and self.column is not None:
            where += f":{self.column}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class LoadResult:
    plan: Plan | None
    errors: list[PlanError] = field(default_factory=list)
    # Checks not made because a file they depend on could not be read, in words, for the summary.
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not self.errors
