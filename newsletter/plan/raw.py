"""The written shape of ``campaigns/`` files, as pydantic models.

These models check only what one file can say about itself: required and unknown fields, types,
dates, times, ids, audiences and URLs. Checks that need more than one file (catalogue ids,
agencies, booking dates against send dates) live in :mod:`newsletter.plan.loader`.

Every model forbids unknown fields so that a misspelt field ("sumary:") is an error rather than
silently ignored. Validators raise ``ValueError`` with plain-English text: the loader shows that
text to the comms officer as it is.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from newsletter.plan.issuekey import parse_key
from newsletter.plan.links import markdown_link_problems, url_problem
from newsletter.plan.model import ItemKind
from newsletter.textcheck import control_problem

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
AUDIENCES = ("children", "adults")


MARKDOWN_MAX = 10_000  # characters in one Markdown field; the longest sample intro is ~600
LINE_MAX = 300  # characters in a one-line field (titles, subjects, link words)


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("is empty; write something here or remove the field")
    return value.strip()


def _line(value: str) -> str:
    """One line of plain text: it may end up in an email header (the subject) or a title."""
    value = _text(value)
    problem = control_problem(value)
    if problem is not None:
        raise ValueError(problem)
    if len(value) > LINE_MAX:
        raise ValueError(f"is {len(value):,} characters long; keep it under {LINE_MAX}")
    return value


def markdown_problem(value: str) -> str | None:
    """Why one Markdown text cannot be in a plan on its own (a control character, too long)."""
    problem = control_problem(value, multiline=True)
    if problem is not None:
        return problem
    if len(value) > MARKDOWN_MAX:
        return (
            f"is {len(value):,} characters long; keep it under {MARKDOWN_MAX:,} "
            "(a bulletin is read in a few minutes)"
        )
    return None


def markdown_problems(value: str) -> list[str]:
    """What ``plan check`` says about one Markdown text, in its words: a control character or
    an over-long text, else each unsafe or vague link (checked only in a text short enough)."""
    problem = markdown_problem(value.strip())
    if problem is not None:
        return [problem]
    return [message for _line, message in markdown_link_problems(value)]


def _markdown(value: str) -> str:
    value = _text(value)
    problem = markdown_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _month(value: Any) -> str:
    """A theme's ``month:``: the month (YYYY-MM), or an extra edition's key (YYYY-MM-name)."""
    if not isinstance(value, str):
        raise ValueError(f"{str(value)!r} is not a month; write it as YYYY-MM, e.g. 2026-07")
    parse_key(value)  # its ValueError says how to write a month or an extra edition
    return value


def _item_id(value: str) -> str:
    if not ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a usable id; use lower-case letters, digits and hyphens, "
            "e.g. course-icon"
        )
    return value


def _kind(value: str) -> str:
    kinds = [kind.value for kind in ItemKind]
    if value not in kinds:
        raise ValueError(f"{value!r} is not a kind of item; use one of {', '.join(kinds)}")
    return value


def _audience(value: str) -> str:
    if value not in AUDIENCES:
        raise ValueError(f"{value!r} is not an audience; use {' or '.join(AUDIENCES)}")
    return value


def _url(value: str) -> str:
    problem = url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _clock_time(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str) and (match := _TIME_RE.match(value.strip())):
        return dt.time(int(match.group(1)), int(match.group(2)))
    raise ValueError(
        f'{value!r} is not a time of day; write it in 24-hour clock in quotes, e.g. "09:00"'
    )


def _calendar_date(value: Any) -> dt.date:
    # YAML reads an unquoted 2026-07-20 as a date already; a quoted one arrives as text.
    if isinstance(value, dt.datetime):
        raise ValueError(f"{value!r} has a time; write just the date, e.g. 2026-07-20")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(_date_advice(value))


def _date_advice(value: Any) -> str:
    """A date written the British way (01/07/2026) gets its year-first spelling back."""
    match = re.fullmatch(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*", str(value))
    if match:
        day, month, year = (int(part) for part in match.groups())
        try:
            meant = dt.date(year, month, day)
        except ValueError:
            pass
        else:
            return (
                f"{value!r} is not a date this file understands: write dates year first, "
                f"{meant.isoformat()} for {meant.day} {meant:%B %Y}"
            )
    return f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-07-20"


Text = Annotated[str, AfterValidator(_text)]
Line = Annotated[str, AfterValidator(_line)]
Markdown = Annotated[str, AfterValidator(_markdown)]
Month = Annotated[str, BeforeValidator(_month)]
ItemId = Annotated[str, AfterValidator(_item_id)]
Kind = Annotated[str, AfterValidator(_kind)]
AudienceName = Annotated[str, AfterValidator(_audience)]
Url = Annotated[str, AfterValidator(_url)]
ClockTime = Annotated[dt.time, BeforeValidator(_clock_time)]
CalendarDate = Annotated[dt.date, BeforeValidator(_calendar_date)]


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- plan.yaml ---------------------------------------------------------------------------------


class SlotRaw(_Raw):
    day: Text = "1st tue"
    time: ClockTime = dt.time(9, 0)
    timezone: Text = "Europe/London"


class PlanRaw(_Raw):
    send_slot: SlotRaw = SlotRaw()
    draft_lead_days: int = Field(default=10, ge=0, le=60)


# --- catalogue/*.yaml --------------------------------------------------------------------------


class ItemRaw(_Raw):
    id: ItemId
    kind: Kind
    title: Line
    summary: Markdown
    url: Url
    link_text: Line
    points: list[Line] = []
    format: Line | None = None
    booking_closes: CalendarDate | None = None
    agencies: list[Text] | None = None
    retired: bool = False  # kept for the months that used it; no new month may


class CatalogueRaw(_Raw):
    items: list[ItemRaw]


# --- themes/YYYY-MM.yaml and themes/YYYY-MM-<edition>.yaml ------------------------------------


class SendRaw(_Raw):
    date: CalendarDate | None = None
    time: ClockTime | None = None


class UseRaw(_Raw):
    ref: Text
    note: Markdown | None = None
    agencies: list[Text] | None = None


class SectionRaw(_Raw):
    title: Line
    intro: Markdown | None = None
    feedback: bool = True
    items: list[UseRaw]


class ThemeRaw(_Raw):
    month: Month
    title: Line
    subject: Line
    preheader: Line
    audience: list[AudienceName] = Field(min_length=1)
    send: SendRaw | None = None
    intro: Markdown
    sections: list[SectionRaw] = Field(min_length=1)
