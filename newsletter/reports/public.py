"""What a report may show: flat records with small numbers hidden.

Every format (table, CSV, JSON, HTML and its charts) is drawn from these records, so a count
of fewer than ``min_count`` people can appear in none of them. Counts of 1 to min_count - 1
show as ``"<5"`` (for the default 5); 0 stays 0; ``min_count`` 0 shows everything (internal
use). A rate built on a hidden count is hidden too, since it would give the count away: it is
``"suppressed"`` (never ``"<5"`` in a rate column, which would read as "under 5 %").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from newsletter.plan import calendar_month
from newsletter.reports.bulletin import BulletinReport
from newsletter.reports.measures import MachineRule
from newsletter.reports.training import Reach, TrainingReport

Value = int | float | str | None


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "count"  # count | rate | text


SUPPRESSED = "suppressed"


def hidden_label(min_count: int) -> str:
    return f"<{min_count}"


def people(n: int | None, min_count: int) -> int | str | None:
    """A count of people (or of their events), hidden when small."""
    if n is None:
        return None
    if min_count > 0 and 0 < n < min_count:
        return hidden_label(min_count)
    return n


def rate(numerator: int, denominator: int, min_count: int) -> float | str | None:
    """A percentage with one decimal; None without a denominator."""
    if denominator <= 0:
        return None
    if isinstance(people(numerator, min_count), str) or isinstance(
        people(denominator, min_count), str
    ):
        return SUPPRESSED
    return round(100.0 * numerator / denominator, 1)


REACH_COLUMNS = [
    Column("delivered", "Delivered"),
    Column("sent_raw", "Sent (raw)"),
    Column("bounced", "Bounced"),
    Column("opens", "Unique opens (indicative)"),
    Column("opens_raw", "Unique opens (raw)"),
]

TRAINING_COLUMNS = [
    Column("month", "Month", "text"),  # the calendar month the bulletin counts in
    Column("bulletin", "Bulletin", "text"),  # its key: the month, or an extra edition of it
    Column("course_id", "Course id", "text"),
    Column("course", "Course", "text"),
    Column("kind", "Kind", "text"),
    Column("agency", "Agency", "text"),
    *REACH_COLUMNS,
    Column("clickers", "Unique clickers"),
    Column("clickers_raw", "Unique clickers (raw)"),
    Column("clicks", "Clicks"),
    Column("clicks_raw", "Clicks (raw)"),
    Column("ctr", "CTR %", "rate"),
    Column("ctr_raw", "CTR % (raw)", "rate"),
    Column("unsubscribes", "Unsubscribes"),
    Column("unsubscribes_raw", "Unsubscribes (raw)"),
    Column("feedback_yes", "Feedback yes"),
    Column("feedback_yes_raw", "Feedback yes (raw)"),
    Column("feedback_no", "Feedback no"),
    Column("feedback_no_raw", "Feedback no (raw)"),
    Column("bookings", "Bookings"),
    Column("attended", "Attended"),
]

BULLETIN_AGENCY_COLUMNS = [
    Column("agency", "Agency", "text"),
    *REACH_COLUMNS,
    Column("clickers", "Unique clickers (any link)"),
    Column("clickers_raw", "Unique clickers (raw)"),
    Column("clicks", "Clicks"),
    Column("clicks_raw", "Clicks (raw)"),
    Column("ctr", "CTR %", "rate"),
    Column("ctr_raw", "CTR % (raw)", "rate"),
    Column("unsubscribes", "Unsubscribes"),
    Column("unsubscribes_raw", "Unsubscribes (raw)"),
]

LINK_COLUMNS = [
    Column("position", "#", "text"),
    Column("section", "Section", "text"),
    Column("kind", "Kind", "text"),
    Column("title", "Link", "text"),
    Column("catalogue_id", "Catalogue id", "text"),
    Column("clickers", "Unique clickers"),
    Column("clickers_raw", "Unique clickers (raw)"),
    Column("clicks", "Clicks"),
    Column("clicks_raw", "Clicks (raw)"),
]

FEEDBACK_COLUMNS = [
    Column("section", "Section", "text"),
    Column("yes", "Yes"),
    Column("yes_raw", "Yes (raw)"),
    Column("no", "No"),
    Column("no_raw", "No (raw)"),
]

COURSE_COLUMNS = [
    Column("course_id", "Course id", "text"),
    Column("course", "Course", "text"),
    Column("clickers", "Unique clickers"),
    Column("clickers_raw", "Unique clickers (raw)"),
]


def reach_record(r: Reach, min_count: int) -> dict[str, Value]:
    return {
        "delivered": people(r.delivered, min_count),
        "sent_raw": people(r.sent, min_count),
        "bounced": people(r.bounced, min_count),
        "opens": people(r.opens.unique_human, min_count),
        "opens_raw": people(r.opens.unique_all, min_count),
    }


def training_records(report: TrainingReport, min_count: int) -> list[dict[str, Value]]:
    out: list[dict[str, Value]] = []
    for row in report.rows:
        r = row.reach
        record: dict[str, Value] = {
            "month": calendar_month(row.month),
            "bulletin": row.month,
            "course_id": row.course_id,
            "course": row.course,
            "kind": row.kind,
            "agency": row.agency,
            **reach_record(r, min_count),
            "clickers": people(row.clicks.unique_human, min_count),
            "clickers_raw": people(row.clicks.unique_all, min_count),
            "clicks": people(row.clicks.events_human, min_count),
            "clicks_raw": people(row.clicks.events_all, min_count),
            "ctr": rate(row.clicks.unique_human, r.delivered, min_count),
            "ctr_raw": rate(row.clicks.unique_all, r.delivered, min_count),
            "unsubscribes": people(r.unsubscribes.unique_human, min_count),
            "unsubscribes_raw": people(r.unsubscribes.unique_all, min_count),
            "feedback_yes": people(row.feedback_yes.unique_human, min_count),
            "feedback_yes_raw": people(row.feedback_yes.unique_all, min_count),
            "feedback_no": people(row.feedback_no.unique_human, min_count),
            "feedback_no_raw": people(row.feedback_no.unique_all, min_count),
            "bookings": people(row.bookings, min_count),
            "attended": people(row.attended, min_count),
        }
        out.append(record)
    return out


def bulletin_agency_records(report: BulletinReport, min_count: int) -> list[dict[str, Value]]:
    out: list[dict[str, Value]] = []
    for r in [*report.reach, report.total]:
        out.append(
            {
                "agency": r.agency,
                **reach_record(r, min_count),
                "clickers": people(r.clickers.unique_human, min_count),
                "clickers_raw": people(r.clickers.unique_all, min_count),
                "clicks": people(r.clickers.events_human, min_count),
                "clicks_raw": people(r.clickers.events_all, min_count),
                "ctr": rate(r.clickers.unique_human, r.delivered, min_count),
                "ctr_raw": rate(r.clickers.unique_all, r.delivered, min_count),
                "unsubscribes": people(r.unsubscribes.unique_human, min_count),
                "unsubscribes_raw": people(r.unsubscribes.unique_all, min_count),
            }
        )
    return out


# Links the template adds for machine-activity detection: in the methods appendix of the
# human-read formats, never in the click map a board reads (CSV and JSON keep them).
INTERNAL_KINDS = ("honeypot",)
ID_KEYS = ("catalogue_id", "course_id")


def for_people(columns: Sequence[Column]) -> list[Column]:
    """The columns a person reads: names, not ids (CSV and JSON keep the ids)."""
    return [c for c in columns if c.key not in ID_KEYS]


def link_records(report: BulletinReport, min_count: int) -> list[dict[str, Value]]:
    return [
        {
            "position": link.position,
            "section": link.section,
            "kind": link.kind,
            "title": link.title,
            "catalogue_id": link.catalogue_id,
            "clickers": people(link.clicks.unique_human, min_count),
            "clickers_raw": people(link.clicks.unique_all, min_count),
            "clicks": people(link.clicks.events_human, min_count),
            "clicks_raw": people(link.clicks.events_all, min_count),
        }
        for link in report.links
    ]


def feedback_records(report: BulletinReport, min_count: int) -> list[dict[str, Value]]:
    return [
        {
            "section": f.section,
            "yes": people(f.yes.unique_human, min_count),
            "yes_raw": people(f.yes.unique_all, min_count),
            "no": people(f.no.unique_human, min_count),
            "no_raw": people(f.no.unique_all, min_count),
        }
        for f in report.feedback
    ]


def course_records(report: BulletinReport, min_count: int) -> list[dict[str, Value]]:
    return [
        {
            "course_id": c.course_id,
            "course": c.course,
            "clickers": people(c.clicks.unique_human, min_count),
            "clickers_raw": people(c.clicks.unique_all, min_count),
        }
        for c in report.top_courses
    ]


def machine_statement(rules: Sequence[MachineRule]) -> str:
    """The sentence every report carries about how machine activity was identified."""
    base = (
        "Human figures leave out events flagged as machine activity (link scanners, mail "
        "privacy proxies); raw figures include them. Unique opens are indicative only."
    )
    if not rules:
        return base + " No events in this report were flagged as machine activity."
    parts = [f"{r.reason} ({r.events} events, rules {r.rules_version})" for r in rules]
    return base + " Machine activity was identified by: " + "; ".join(parts) + "."


def machine_json(rules: Sequence[MachineRule]) -> list[dict[str, Any]]:
    return [
        {"rules_version": r.rules_version, "reason": r.reason, "events": r.events} for r in rules
    ]


def suppression_statement(min_count: int) -> str:
    if min_count <= 0:
        return "Small numbers are NOT hidden (NEWSLETTER_REPORT_MIN_COUNT=0): internal use only."
    return (
        f"Counts of 1 to {min_count - 1} people are shown as {hidden_label(min_count)}, "
        f"and rates built on them as {SUPPRESSED}."
    )
