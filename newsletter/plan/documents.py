"""Writing plan documents from what people type into the staff pages.

The staff pages edit the same text documents that ``campaigns/`` holds, so what they save is
checked, stored, exported and reported on exactly like an imported file. A month is written as
a whole new ``themes/YYYY-MM.yaml``; a catalogue item is changed inside its file with ruamel's
round-trip loader, so that comments and the other items stay as they were written.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from newsletter.plan.model import Theme
from newsletter.plan.snapshot import CATALOGUE_DIR, THEMES_DIR


@dataclass
class UseForm:
    ref: str
    note: str = ""
    agencies: list[str] = field(default_factory=list)  # empty: every agency


@dataclass
class SectionForm:
    title: str = ""
    intro: str = ""
    feedback: bool = True
    items: list[UseForm] = field(default_factory=list)


@dataclass
class ThemeForm:
    """One month as the editor holds it; blank fields are left out of the document (so the
    checks say "is required but missing" for a required one)."""

    month: str
    title: str = ""
    subject: str = ""
    preheader: str = ""
    audience: list[str] = field(default_factory=list)
    intro: str = ""
    send_date: str = ""
    send_time: str = ""
    sections: list[SectionForm] = field(default_factory=list)


@dataclass
class ItemForm:
    """A catalogue item as the catalogue page holds it (blank optional fields left out)."""

    id: str
    kind: str = ""
    title: str = ""
    summary: str = ""
    url: str = ""
    link_text: str = ""
    points: list[str] = field(default_factory=list)
    format: str = ""
    booking_closes: str = ""
    agencies: list[str] = field(default_factory=list)
    retired: bool = False


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def _text(value: str) -> str:
    """Typed text as it goes into a document: LF line ends (browsers send CRLF), trimmed, and
    written as a literal block (``|-``) when it runs over several lines."""
    text = "\n".join(line.rstrip() for line in value.replace("\r\n", "\n").split("\n")).strip()
    return LiteralScalarString(text) if "\n" in text else text


def form_from_theme(theme: Theme, *, month: str) -> ThemeForm:
    return ThemeForm(
        month=month,
        title=theme.title,
        subject=theme.subject,
        preheader=theme.preheader,
        audience=[a.value for a in theme.audiences],
        intro=theme.intro,
        send_date=theme.send_date.isoformat() if theme.send_date and theme.month == month else "",
        send_time=f"{theme.send_time:%H:%M}" if theme.send_time else "",
        sections=[
            SectionForm(
                title=section.title,
                intro=section.intro or "",
                feedback=section.feedback,
                items=[
                    UseForm(
                        ref=use.item.id,
                        note=use.note or "",
                        agencies=list(use.agencies) if use.agencies is not None else [],
                    )
                    for use in section.items
                ],
            )
            for section in theme.sections
        ],
    )


def theme_path(month: str) -> str:
    return f"{THEMES_DIR}/{month}.yaml"


def theme_document(form: ThemeForm) -> str:
    """``themes/YYYY-MM.yaml`` for ``form``."""
    doc = CommentedMap()
    doc["month"] = form.month
    for name in ("title", "subject", "preheader"):
        value = _text(getattr(form, name))
        if value:
            doc[name] = value
    if form.audience:
        audience = CommentedSeq(form.audience)
        audience.fa.set_flow_style()
        doc["audience"] = audience
    send = CommentedMap()
    if form.send_date.strip():
        send["date"] = form.send_date.strip()
    if form.send_time.strip():
        send["time"] = DoubleQuotedScalarString(form.send_time.strip())
    if send:
        doc["send"] = send
    intro = _text(form.intro)
    if intro:
        doc["intro"] = intro
    sections = CommentedSeq()
    for section in form.sections:
        entry = CommentedMap()
        if _text(section.title):
            entry["title"] = _text(section.title)
        if _text(section.intro):
            entry["intro"] = _text(section.intro)
        if not section.feedback:
            entry["feedback"] = False
        items = CommentedSeq()
        for use in section.items:
            item = CommentedMap()
            item["ref"] = use.ref
            if _text(use.note):
                item["note"] = _text(use.note)
            if use.agencies:
                agencies = CommentedSeq(use.agencies)
                agencies.fa.set_flow_style()
                item["agencies"] = agencies
            items.append(item)
        entry["items"] = items
        sections.append(entry)
    if sections:
        doc["sections"] = sections
    return _dump(doc)


def _item_map(form: ItemForm) -> CommentedMap:
    item = CommentedMap()
    item["id"] = form.id.strip()
    for name in ("kind", "title", "summary", "url", "link_text"):
        value = _text(getattr(form, name))
        if value:
            item[name] = value
    points = [p for p in (_text(p) for p in form.points) if p]
    if points:
        item["points"] = CommentedSeq(points)
    if _text(form.format):
        item["format"] = _text(form.format)
    if form.booking_closes.strip():
        item["booking_closes"] = form.booking_closes.strip()
    if form.agencies:
        agencies = CommentedSeq(form.agencies)
        agencies.fa.set_flow_style()
        item["agencies"] = agencies
    if form.retired:
        item["retired"] = True
    return item


def catalogue_path(kind: str) -> str:
    """Where a new item of ``kind`` goes: ``catalogue/courses.yaml`` and so on."""
    return f"{CATALOGUE_DIR}/{kind}s.yaml" if kind else f"{CATALOGUE_DIR}/items.yaml"


def find_item(documents: Mapping[str, str], item_id: str) -> str | None:
    """The catalogue document holding ``item_id`` (None when no document does)."""
    for rel, text in sorted(documents.items()):
        if not rel.startswith(f"{CATALOGUE_DIR}/"):
            continue
        try:
            doc = _yaml().load(text)
        except YAMLError:
            continue
        entries = doc.get("items") if isinstance(doc, dict) else None
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("id") == item_id:
                return rel
    return None


def put_item(
    documents: Mapping[str, str], form: ItemForm, *, original_id: str | None
) -> dict[str, str]:
    """The documents with the item ``original_id`` replaced by ``form`` (in its own file), or
    ``form`` added (to the file for its kind) when ``original_id`` is None."""
    out = dict(documents)
    rel = find_item(documents, original_id) if original_id else None
    if rel is None:
        rel = catalogue_path(form.kind)
        doc = _yaml().load(out[rel]) if rel in out else CommentedMap()
        if not isinstance(doc, CommentedMap):
            doc = CommentedMap()
        entries = doc.get("items")
        if not isinstance(entries, CommentedSeq):
            entries = CommentedSeq()
            doc["items"] = entries
        entries.append(_item_map(form))
    else:
        doc = _yaml().load(out[rel])
        entries = doc["items"]
        for index, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("id") == original_id:
                entries[index] = _item_map(form)
                break
    out[rel] = _dump(doc)
    return out


def item_form(values: Mapping[str, Any]) -> ItemForm:
    """An ItemForm from a catalogue item's fields as the checker built them."""
    booking = values.get("booking_closes")
    return ItemForm(
        id=str(values.get("id") or ""),
        kind=str(values.get("kind") or ""),
        title=str(values.get("title") or ""),
        summary=str(values.get("summary") or ""),
        url=str(values.get("url") or ""),
        link_text=str(values.get("link_text") or ""),
        points=[str(p) for p in values.get("points") or ()],
        format=str(values.get("format") or ""),
        booking_closes=booking.isoformat() if booking is not None else "",
        agencies=list(values.get("agencies") or ()),
        retired=bool(values.get("retired")),
    )
