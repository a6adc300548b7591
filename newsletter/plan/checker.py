"""Checking a plan: a snapshot of ``campaigns/`` turned into a Plan, or into every error found.

:class:`Checker` checks each file on its own (:mod:`newsletter.plan.raw`), then the files against
each other: catalogue ids, agencies, and booking dates against send dates. It keeps going after
an error so that one run reports them all, and avoids knock-on errors (an item whose catalogue
entry is broken is not also reported as unknown). It builds a Plan only from a clean snapshot.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString

from newsletter.models import Audience
from newsletter.plan.issuekey import KEY_RE, parse_key
from newsletter.plan.links import is_vague_link_text, markdown_link_problems
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
from newsletter.plan.raw import MARKDOWN_MAX, CatalogueRaw, ItemRaw, PlanRaw, ThemeRaw
from newsletter.plan.slots import SlotError, send_time, validate_slot
from newsletter.plan.snapshot import CATALOGUE_DIR, PLAN_FILE, THEMES_DIR, Snapshot
from newsletter.plan.yamlfile import Loc, field_path, locate, read_yaml, to_plain, validate


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@dataclass
class _Doc:
    display: str  # path as the person named it, for messages
    doc: CommentedMap

    def error(self, loc: Loc, message: str) -> PlanError:
        return PlanError(self.display, locate(self.doc, loc), field_path(loc), message)

    def source(self, loc: Loc) -> Source:
        return Source(self.display, locate(self.doc, loc) or 1)


class Checker:
    """Check one snapshot; :meth:`run` once."""

    def __init__(
        self,
        snapshot: Snapshot,
        agencies: Collection[str] | None,
        *,
        frozen: Collection[str] = (),
    ) -> None:
        self.snapshot = snapshot
        self.frozen = frozenset(frozen)  # months already sent: judged as they were sent
        self.dir = snapshot.root
        self.agencies = list(agencies) if agencies is not None else None
        self.errors: list[PlanError] = []
        self.catalogue: dict[str, CatalogueItem] = {}
        self.catalogue_files: dict[str, str] = {}  # id -> display path, for messages
        self.known_ids: set[str] = set()  # including items with errors: no knock-on errors
        self.unreadable: list[str] = []  # files that did not parse: checks on them are skipped
        # Unknown catalogue ids: reported once each, at the first use, with the other places.
        self.unknown_refs: dict[str, list[tuple[_Doc, Loc]]] = {}

    # --- reading -------------------------------------------------------------------------------

    def _display(self, rel: str) -> str:
        return str(self.dir / rel)

    def _read(self, rel: str) -> _Doc | None:
        doc, errors = read_yaml(self.snapshot.files[rel], self._display(rel))
        self.errors.extend(errors)
        if doc is None:
            self.unreadable.append(rel)
            return None
        return _Doc(self._display(rel), doc)

    def _yaml_files(self, folder: str) -> list[str] | None:
        if folder not in self.snapshot.folders:
            self.errors.append(PlanError(self._display(folder), None, "", "this folder is missing"))
            return None
        return sorted(rel for rel in self.snapshot.files if rel.startswith(f"{folder}/"))

    def run(self) -> LoadResult:
        if not self.snapshot.exists:
            return LoadResult(None, [PlanError(str(self.dir), None, "", "no such folder")])
        slot, lead_days = self._plan_file()
        self._catalogue()
        themes = self._themes(slot)
        self._report_unknown_refs()
        if self.errors or slot is None:
            # In reading order: file by file, top to bottom (stable for errors on one line).
            self.errors.sort(key=lambda error: (error.file, error.line or 0))
            return LoadResult(None, self.errors, self._skipped())
        plan = Plan(
            slot=slot,
            draft_lead_days=lead_days,
            catalogue=self.catalogue,
            themes=dict(sorted(themes.items())),
            files=tuple(sorted(self.snapshot.files)),
            digest=self.snapshot.digest,
        )
        return LoadResult(plan, [])

    def _catalogue_unreadable(self) -> list[str]:
        return [rel for rel in self.unreadable if rel.startswith(f"{CATALOGUE_DIR}/")]

    def _skipped(self) -> list[str]:
        """The checks not made because a file they depend on could not be read, in words."""
        notes = []
        catalogue = self._catalogue_unreadable()
        if catalogue:
            notes.append(
                "the catalogue ids the themes use were not checked, because "
                f"{' and '.join(catalogue)} could not be read; fix that first"
            )
        if PLAN_FILE in self.unreadable:
            notes.append(
                "booking dates against send dates were not checked, because "
                f"{PLAN_FILE} could not be read; fix that first"
            )
        return notes

    def _report_unknown_refs(self) -> None:
        for ref, uses in self.unknown_refs.items():
            doc, loc = uses[0]
            close = difflib.get_close_matches(ref, list(self.known_ids), n=1)
            months = {Path(d.display).stem for d, _ in uses}
            # Several months, or a month already sent, naming the same missing id: the
            # catalogue item was renamed, not each theme mistyped.
            renamed = len(months) > 1 or bool(months & self.frozen)
            message = f"no catalogue item has the id {ref!r}"
            if close and renamed:
                message += (
                    f"; if {close[0]!r} is this item renamed, give it back its old id {ref!r}: "
                    "an id must not change once a bulletin has used it (reports follow it)"
                )
            elif close:
                message += f" (did you mean {close[0]!r}?); add it to catalogue/ or fix the id"
            else:
                message += "; add it to catalogue/ or fix the id"
            others = [
                f"{Path(other.display).name}:{locate(other.doc, (*where, 'ref'))}"
                for other, where in uses[1:]
            ]
            if others:
                message += f" (also used at {', '.join(others)})"
            self.errors.append(doc.error((*loc, "ref"), message))

    # --- plan.yaml -----------------------------------------------------------------------------

    def _plan_file(self) -> tuple[SendSlot | None, int]:
        if PLAN_FILE not in self.snapshot.files:
            self.errors.append(
                PlanError(
                    self._display(PLAN_FILE),
                    None,
                    "",
                    "this file is missing; it holds the default send slot (see README.md)",
                )
            )
            return None, 10
        doc = self._read(PLAN_FILE)
        if doc is None:
            return None, 10
        raw, errors = validate(PlanRaw, doc.doc, doc.display)
        self.errors.extend(errors)
        if not isinstance(raw, PlanRaw):
            return None, 10
        try:
            ZoneInfo(raw.send_slot.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.errors.append(
                doc.error(
                    ("send_slot", "timezone"),
                    f"{raw.send_slot.timezone!r} is not a time zone; use a name like Europe/London",
                )
            )
            return None, raw.draft_lead_days
        slot = SendSlot(
            day=raw.send_slot.day, at=raw.send_slot.time, timezone=raw.send_slot.timezone
        )
        try:
            validate_slot(slot)
        except SlotError as exc:
            self.errors.append(
                doc.error(
                    ("send_slot", "day"),
                    f"{exc}; write a day like '1st tue', 'last fri' or '15' (1 to 28)",
                )
            )
            return None, raw.draft_lead_days
        return slot, raw.draft_lead_days

    # --- catalogue/*.yaml ----------------------------------------------------------------------

    def _catalogue(self) -> None:
        names = self._yaml_files(CATALOGUE_DIR)
        if names is None:
            return
        if not names:
            self.errors.append(
                PlanError(self._display(CATALOGUE_DIR), None, "", "holds no .yaml files")
            )
        first_seen: dict[str, tuple[str, int | None]] = {}
        for rel in names:
            doc = self._read(rel)
            if doc is None:
                continue
            entries = doc.doc.get("items")
            if not isinstance(entries, list):
                # Let the file-level model explain what is wrong with the top level.
                _, errors = validate(CatalogueRaw, doc.doc, doc.display)
                self.errors.extend(errors)
                continue
            extra = [key for key in doc.doc if key != "items"]
            for key in extra:
                self.errors.append(
                    doc.error((str(key),), "is not a field a catalogue file can have")
                )
            for index, entry in enumerate(entries):
                self._catalogue_item(doc, index, entry, first_seen)

    def _catalogue_item(
        self, doc: _Doc, index: int, entry: Any, first_seen: dict[str, tuple[str, int | None]]
    ) -> None:
        loc: tuple[str | int, ...] = ("items", index)
        if not isinstance(entry, CommentedMap):
            self.errors.append(doc.error(loc, "should be a group of fields (id:, kind:, ...)"))
            return
        plain = to_plain(entry)
        item_id = plain.get("id")
        if isinstance(item_id, str):
            if item_id in first_seen:
                file, line = first_seen[item_id]
                self.errors.append(
                    doc.error(
                        (*loc, "id"),
                        f"the id {item_id!r} is already used at {file}:{line}; "
                        "every catalogue item needs its own id",
                    )
                )
                return
            first_seen[item_id] = (doc.display, locate(doc.doc, (*loc, "id")))
            self.known_ids.add(item_id)
        before = len(self.errors)
        raw, errors = validate(ItemRaw, entry, doc.display)
        # Lines were found within the item; the field path is told from the top of the file.
        self.errors.extend(
            PlanError(e.file, e.line, field_path((*loc, *_split(e.field))), e.message)
            for e in errors
        )
        self._check_item_links(doc, loc, plain)
        # Said even when the item has other errors: every problem in one run.
        if plain.get("kind") == ItemKind.course.value:
            for name, why in _COURSE_FIELDS.items():
                if plain.get(name) is None:
                    self.errors.append(doc.error((*loc, name), f"is required for a course: {why}"))
        if not isinstance(raw, ItemRaw):
            return
        kind = ItemKind(raw.kind)
        if kind is not ItemKind.course and raw.booking_closes is not None:
            self.errors.append(
                doc.error(
                    (*loc, "booking_closes"), f"only courses have a booking date, not a {kind}"
                )
            )
        self._check_agencies(doc, (*loc, "agencies"), raw.agencies)
        if len(self.errors) > before:
            return
        self.catalogue[raw.id] = CatalogueItem(
            id=raw.id,
            kind=kind,
            title=raw.title,
            summary=raw.summary,
            url=raw.url,
            link_text=raw.link_text,
            points=tuple(raw.points),
            format=raw.format,
            booking_closes=raw.booking_closes,
            agencies=tuple(raw.agencies) if raw.agencies is not None else None,
            retired=raw.retired,
            source=doc.source(loc),
        )
        self.catalogue_files[raw.id] = doc.display

    def _check_item_links(self, doc: _Doc, loc: Loc, plain: dict[str, Any]) -> None:
        text = plain.get("link_text")
        if isinstance(text, str) and text.strip() and is_vague_link_text(text):
            self.errors.append(
                doc.error(
                    (*loc, "link_text"),
                    f"{text!r} does not say where the link goes; write what the reader gets, "
                    "e.g. 'Book the ICON eLearning course'",
                )
            )
        self._check_markdown(doc, (*loc, "summary"), plain.get("summary"))

    def _check_markdown(self, doc: _Doc, loc: Loc, value: Any) -> None:
        """Links written inside Markdown text follow the same rules as catalogue links; a
        link that would not be safe in an email (``javascript:``, ``data:``...) is refused."""
        if not isinstance(value, str) or len(value) > MARKDOWN_MAX:
            return  # an over-long text is refused by its field's own check
        node = _node_at(doc.doc, loc)
        # A literal block (``|``) keeps its lines: a link's line in the file is exact.
        first = locate(doc.doc, loc)
        exact = isinstance(node, LiteralScalarString) and first is not None
        for offset, message in markdown_link_problems(value):
            line = first + offset if exact and first is not None else first
            self.errors.append(PlanError(doc.display, line, field_path(loc), message))

    def _check_agencies(self, doc: _Doc, loc: Loc, values: list[str] | None) -> None:
        if values is None or self.agencies is None:
            return
        if not values:
            self.errors.append(
                doc.error(loc, "is an empty list; leave the field out to show the item to all")
            )
        for index, value in enumerate(values):
            if value not in self.agencies:
                self.errors.append(
                    doc.error(
                        (*loc, index),
                        f"{value!r} is not an agency{_did_you_mean(value, self.agencies)}; "
                        f"agencies are: {', '.join(self.agencies)}",
                    )
                )

    # --- themes/YYYY-MM.yaml -------------------------------------------------------------------

    def _themes(self, slot: SendSlot | None) -> dict[str, Theme]:
        names = self._yaml_files(THEMES_DIR)
        if names is None:
            return {}
        if not names:
            self.errors.append(
                PlanError(self._display(THEMES_DIR), None, "", "holds no month files yet")
            )
        themes: dict[str, Theme] = {}
        docs: dict[str, _Doc] = {}
        first_seen: dict[str, str] = {}
        for rel in names:
            doc = self._read(rel)
            if doc is None:
                continue
            theme = self._theme(doc)
            month = to_plain(doc.doc.get("month"))
            if isinstance(month, str) and KEY_RE.match(month):
                stem = Path(rel).stem
                if month in first_seen:
                    self.errors.append(
                        doc.error(
                            ("month",),
                            f"{month} already has a theme in {first_seen[month]}; "
                            "a month has one theme file",
                        )
                    )
                    continue
                first_seen[month] = doc.display
                if stem != month:
                    self.errors.append(
                        doc.error(
                            ("month",),
                            f"the file is named {Path(rel).name} but is for {month}; "
                            f"rename it {month}.yaml",
                        )
                    )
            if theme is None:
                continue
            themes[theme.month] = theme
            docs[theme.month] = doc
            if slot is not None and theme.month not in self.frozen:
                self._check_bookings(doc, slot, theme)
        if slot is not None:
            self._check_clashes(slot, themes, docs)
        return themes

    def _check_clashes(
        self, slot: SendSlot, themes: dict[str, Theme], docs: dict[str, _Doc]
    ) -> None:
        """Two bulletins never go out at the same minute: an extra edition names its own
        time, and a time another bulletin already has is refused beside the extra's date."""
        skeleton = Plan(slot=slot, draft_lead_days=0, catalogue={}, themes={})
        taken: dict[object, str] = {}
        zone = ZoneInfo(slot.timezone)
        for key in sorted(themes, key=lambda k: (parse_key(k).is_extra, k)):
            try:
                at = send_time(skeleton, themes[key])
            except SlotError:
                continue  # said by the booking check
            other = taken.setdefault(at, key)
            if other != key and key not in self.frozen:
                local = at.astimezone(zone)
                self.errors.append(
                    docs[key].error(
                        ("send", "time"),
                        f"{other} goes out at the same time ({local:%H:%M} on {_day(local.date())}); "
                        "give this extra edition another date or time",
                    )
                )

    def _theme(self, doc: _Doc) -> Theme | None:
        raw, errors = validate(ThemeRaw, doc.doc, doc.display)
        plain = to_plain(doc.doc)
        # An empty section is said once, in its own words, not also as "should be a list".
        empty = {
            field_path(("sections", index, "items"))
            for index, section in enumerate(plain.get("sections") or [])
            if isinstance(section, dict) and "items" in section and not section["items"]
        }
        self.errors.extend(e for e in errors if e.field not in empty)
        before = len(self.errors)
        self._check_markdown(doc, ("intro",), plain.get("intro"))
        sections = plain.get("sections")
        frozen = plain.get("month") in self.frozen
        placed: dict[str, int | None] = {}  # ref -> line of its first use this month
        for s_index, section in enumerate(sections if isinstance(sections, list) else []):
            if not isinstance(section, dict):
                continue
            s_loc: tuple[str | int, ...] = ("sections", s_index)
            self._check_markdown(doc, (*s_loc, "intro"), section.get("intro"))
            items = section.get("items")
            if items == [] or ("items" in section and items is None):
                self.errors.append(
                    doc.error(
                        (*s_loc, "items"),
                        "this section has no items; add at least one or remove the section",
                    )
                )
            for i_index, use in enumerate(items if isinstance(items, list) else []):
                if not isinstance(use, dict):
                    continue
                u_loc = (*s_loc, "items", i_index)
                self._check_use(doc, u_loc, use, frozen=frozen)
                ref = use.get("ref")
                if isinstance(ref, str) and ref in placed:
                    self.errors.append(
                        doc.error(
                            (*u_loc, "ref"),
                            f"{ref!r} is already in this month at line {placed[ref]}; "
                            "use each item once a month",
                        )
                    )
                elif isinstance(ref, str):
                    placed[ref] = locate(doc.doc, (*u_loc, "ref"))
        if not isinstance(raw, ThemeRaw):
            return None
        send_date = raw.send.date if raw.send is not None else None
        key = parse_key(raw.month)
        if send_date is not None and f"{send_date:%Y-%m}" != key.month and key.is_extra:
            self.errors.append(
                doc.error(
                    ("send", "date"),
                    f"{send_date} is not in {key.month}; an extra edition of {key.month} goes "
                    "out in that month",
                )
            )
        elif send_date is not None and f"{send_date:%Y-%m}" != key.month:
            self.errors.append(
                doc.error(
                    ("send", "date"),
                    f"{send_date} is not in {raw.month}; a month's bulletin goes out in that month",
                )
            )
        if key.is_extra and send_date is None:
            self.errors.append(
                doc.error(
                    ("send", "date"),
                    "is required for an extra edition: it goes out on a day of its own, "
                    f'e.g. send: {{date: {key.month}-20, time: "10:00"}}',
                )
            )
        if len(self.errors) > before:
            return None
        return self._build_theme(doc, raw)

    def _check_use(self, doc: _Doc, loc: Loc, use: dict[str, Any], *, frozen: bool) -> None:
        ref = use.get("ref")
        item = self.catalogue.get(ref) if isinstance(ref, str) else None
        if item is not None and item.retired and not frozen:
            self.errors.append(
                doc.error(
                    (*loc, "ref"),
                    f"{ref!r} is retired; choose another item or bring it back in the catalogue",
                )
            )
        unknown = isinstance(ref, str) and ref.strip() and ref not in self.known_ids
        # With a catalogue file unread, an id may well be in it: say nothing (see _skipped).
        if unknown and isinstance(ref, str) and not self._catalogue_unreadable():
            self.unknown_refs.setdefault(ref, []).append((doc, loc))
        agencies = use.get("agencies")
        if isinstance(agencies, list) and all(isinstance(a, str) for a in agencies):
            self._check_agencies(doc, (*loc, "agencies"), agencies)
        self._check_markdown(doc, (*loc, "note"), use.get("note"))

    def _build_theme(self, doc: _Doc, raw: ThemeRaw) -> Theme:
        sections = []
        for s_index, section in enumerate(raw.sections):
            uses = tuple(
                ItemUse(
                    item=self.catalogue[use.ref],
                    note=use.note,
                    agencies=tuple(use.agencies) if use.agencies is not None else None,
                    source=doc.source(("sections", s_index, "items", i_index)),
                )
                for i_index, use in enumerate(section.items)
                # An item whose catalogue entry has errors is already reported; skip it here.
                if use.ref in self.catalogue
            )
            sections.append(
                Section(
                    title=section.title,
                    items=uses,
                    intro=section.intro,
                    feedback=section.feedback,
                    source=doc.source(("sections", s_index)),
                )
            )
        return Theme(
            month=raw.month,
            title=raw.title,
            subject=raw.subject,
            preheader=raw.preheader,
            audiences=tuple(Audience(name) for name in raw.audience),
            intro=raw.intro,
            sections=tuple(sections),
            send_date=raw.send.date if raw.send else None,
            send_time=raw.send.time if raw.send else None,
            source=doc.source(()),
        )

    def _check_bookings(self, doc: _Doc, slot: SendSlot, theme: Theme) -> None:
        """A course must still take bookings on the day its bulletin goes out."""
        skeleton = Plan(slot=slot, draft_lead_days=0, catalogue={}, themes={})
        try:
            goes_out = send_time(skeleton, theme).astimezone(ZoneInfo(slot.timezone)).date()
        except SlotError as exc:
            self.errors.append(doc.error(("month",), str(exc)))
            return
        for s_index, section in enumerate(theme.sections):
            for i_index, use in enumerate(section.items):
                closes = use.item.booking_closes
                if closes is not None and closes < goes_out:
                    self.errors.append(
                        doc.error(
                            ("sections", s_index, "items", i_index, "ref"),
                            f"the course {use.item.id!r} stops taking bookings on "
                            f"{_day(closes)}, before this bulletin goes out on "
                            f"{_day(goes_out)}; give it a later booking_closes in "
                            f"{self.catalogue_files[use.item.id]} or choose another course",
                        )
                    )


_COURSE_FIELDS = {
    "format": "how it is delivered, e.g. format: eLearning (or Virtual classroom, Face to face)",
    "booking_closes": "the last day people can book, e.g. booking_closes: 2027-07-31",
}


def _node_at(doc: Any, loc: Loc) -> Any:
    """The value at ``loc`` as ruamel read it (keeping its style), or None."""
    node = doc
    for step in loc:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _split(path: str) -> list[str | int]:
    """Undo :func:`field_path`: ``a[2].b`` -> ``['a', 2, 'b']``."""
    out: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return out
