"""The one sendability rule: out of date (per month), paused, not approved; sends under way go on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan.digest import month_digest, month_digest_with_send_time
from newsletter.plan.model import ItemUse, Plan, Section, SendSlot, Source
from newsletter.sendability import (
    out_of_date,
    start_refusal,
    start_refusal_reason,
    status_label,
)
from tests.plan_factories import make_item, make_plan, make_theme


def plan_of_two_months() -> Plan:
    july = make_theme("2026-07")
    august = make_theme(
        "2026-08",
        subject="August learning",
        sections=(Section(title="Resources", items=(ItemUse(make_item("neglect-toolkit")),)),),
    )
    plan = make_plan(july, august)
    return replace(plan, catalogue={**plan.catalogue, "unused": make_item("unused")})


def approved_july(plan: Plan, **overrides: object) -> Bulletin:
    values: dict[str, object] = {
        "month": "2026-07",
        "theme": "Non-Accidental Injuries",
        "subject": "July learning",
        "status": BulletinStatus.approved,
        "month_hash": month_digest(plan, "2026-07"),
        "approved_at": datetime(2026, 6, 25, tzinfo=UTC),
    }
    values.update(overrides)
    return Bulletin(**values)  # type: ignore[arg-type]


def test_an_approved_bulletin_built_from_the_plan_as_it_is_may_start() -> None:
    plan = plan_of_two_months()
    assert start_refusal(approved_july(plan), plan) is None
    assert status_label(approved_july(plan), plan) == "approved"


def test_editing_another_month_or_an_unused_catalogue_item_leaves_it_current() -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan)
    august = replace(plan.themes["2026-08"], intro="A rewritten introduction.")
    edited = replace(
        plan,
        themes={**plan.themes, "2026-08": august},
        catalogue={**plan.catalogue, "unused": make_item("unused", title="Renamed")},
        digest="f" * 64,  # the plan as a whole did change
    )
    assert out_of_date(bulletin, edited) is None
    assert start_refusal(bulletin, edited) is None


def test_a_line_moved_in_the_files_is_not_a_change() -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan)
    july = plan.themes["2026-07"]
    moved = replace(july, source=Source("themes/2026-07.yaml", 40))
    assert moved != july
    assert out_of_date(bulletin, replace(plan, themes={**plan.themes, "2026-07": moved})) is None


def edited_theme(plan: Plan) -> Plan:
    july = replace(plan.themes["2026-07"], subject="July learning, revised")
    return replace(plan, themes={**plan.themes, "2026-07": july})


def edited_used_item(plan: Plan) -> Plan:
    july = plan.themes["2026-07"]
    first = july.sections[0]
    use = replace(first.items[0], item=replace(first.items[0].item, url="https://new.example.org/"))
    section = replace(first, items=(use, *first.items[1:]))
    july = replace(july, sections=(section, *july.sections[1:]))
    return replace(plan, themes={**plan.themes, "2026-07": july})


def moved_slot(plan: Plan) -> Plan:
    return replace(plan, slot=SendSlot(day="2nd wed", at=time(10, 0)))


def moved_send_time(plan: Plan) -> Plan:
    july = replace(plan.themes["2026-07"], send_date=date(2026, 7, 20), send_time=time(7, 30))
    return replace(plan, themes={**plan.themes, "2026-07": july})


@pytest.mark.parametrize("edit", [moved_slot, moved_send_time])
def test_moving_the_send_date_or_time_keeps_an_approved_bulletin_current(edit) -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan)
    assert out_of_date(bulletin, edit(plan)) is None
    assert start_refusal(bulletin, edit(plan)) is None


def test_a_bulletin_fingerprinted_with_its_send_time_is_current_until_the_time_moves() -> None:
    plan = plan_of_two_months()
    before = approved_july(plan, month_hash=month_digest_with_send_time(plan, "2026-07"))
    assert start_refusal(before, plan) is None
    assert "out of date" in (start_refusal(before, moved_send_time(plan)) or "")


def test_a_page_gets_the_reason_without_the_command() -> None:
    plan = plan_of_two_months()
    paused = approved_july(plan, schedule_paused=True)
    assert start_refusal_reason(paused, plan) == "it is paused"
    assert start_refusal_reason(approved_july(plan), plan) is None


@pytest.mark.parametrize("edit", [edited_theme, edited_used_item])
def test_editing_the_theme_or_an_item_it_uses_makes_it_out_of_date(edit) -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan)
    changed = edit(plan)

    refusal = start_refusal(bulletin, changed)
    assert refusal is not None
    assert refusal.startswith("bulletin 2026-07 may not be sent: it is out of date: ")
    assert "newsletter bulletin build 2026-07" in refusal
    assert status_label(bulletin, changed) == "approved, out of date"


def test_a_theme_removed_from_the_plan_or_an_unreadable_plan_refuses_a_start() -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan)
    without = replace(plan, themes={"2026-08": plan.themes["2026-08"]})
    assert "no longer has a theme for 2026-07" in (start_refusal(bulletin, without) or "")
    assert "the plan cannot be read" in (start_refusal(bulletin, None) or "")


@pytest.mark.parametrize(
    ("overrides", "words", "label"),
    [
        ({"status": BulletinStatus.draft, "approved_at": None}, "it is not approved", "draft"),
        ({"status": BulletinStatus.missed, "approved_at": None}, "it is not approved", "missed"),
        ({"schedule_paused": True}, "it is paused", "approved, paused"),
        ({"status": BulletinStatus.cancelled}, "it is cancelled", "cancelled"),
    ],
)
def test_paused_unapproved_and_cancelled_bulletins_may_not_start(
    overrides: dict[str, object], words: str, label: str
) -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan, **overrides)
    refusal = start_refusal(bulletin, plan)
    assert refusal is not None
    assert refusal.startswith(f"bulletin 2026-07 may not be sent: {words}")
    assert status_label(bulletin, plan) == label


def test_a_bulletin_approved_after_it_was_missed_may_start() -> None:
    plan = plan_of_two_months()
    assert start_refusal(approved_july(plan, status=BulletinStatus.missed), plan) is None


@pytest.mark.parametrize(
    "status", [BulletinStatus.sending, BulletinStatus.failed, BulletinStatus.sent]
)
def test_a_send_under_way_is_not_a_new_start_even_when_the_plan_changed(
    status: BulletinStatus,
) -> None:
    plan = plan_of_two_months()
    bulletin = approved_july(plan, status=status)
    assert start_refusal(bulletin, edited_theme(plan)) is None
    assert start_refusal(bulletin, None) is None


def test_a_bulletin_built_before_month_fingerprints_is_judged_by_the_whole_plan() -> None:
    plan = plan_of_two_months()
    legacy = approved_july(plan, month_hash="", plan_hash=plan.digest)
    assert start_refusal(legacy, plan) is None
    assert "out of date" in (start_refusal(legacy, replace(plan, digest="f" * 64)) or "")
