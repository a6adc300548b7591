"""The training report's numbers against the hand-computed July fixture (tests/reports/fixture)."""

from __future__ import annotations

from sqlmodel import Session

from newsletter.reports.public import training_records
from newsletter.reports.training import build_training_report
from tests.reports.fixture import build_july


def _rows(
    session: Session, min_count: int = 0, **kw: object
) -> dict[tuple[str, str], dict[str, object]]:
    report = build_training_report(session, **kw)  # type: ignore[arg-type]
    return {(r["course_id"], r["agency"]): r for r in training_records(report, min_count)}  # type: ignore[misc]


def test_machine_events_are_left_out_of_human_counts_and_kept_in_raw(session: Session) -> None:
    build_july(session)
    icon = _rows(session)[("icon", "health")]
    assert (icon["clickers"], icon["clickers_raw"]) == (4, 5)
    assert (icon["clicks"], icon["clicks_raw"]) == (6, 8)
    assert (icon["opens"], icon["opens_raw"]) == (2, 3)
    assert (icon["ctr"], icon["ctr_raw"]) == (80.0, 100.0)


def test_delivered_is_sent_less_bounced_per_agency(session: Session) -> None:
    build_july(session)
    rows = _rows(session)
    assert (rows[("icon", "health")]["delivered"], rows[("icon", "health")]["sent_raw"]) == (5, 6)
    assert rows[("icon", "health")]["bounced"] == 1
    assert rows[("icon", "police")]["delivered"] == 3


def test_an_erased_subscriber_still_counts_at_agency_level(session: Session) -> None:
    july = build_july(session)
    # h6 (erased) is one of the four human clickers and one of the two human opens above;
    # the delivery row no longer names anybody.
    from sqlmodel import col, func, select

    from newsletter.models import Delivery

    erased = session.exec(
        select(func.count())
        .select_from(Delivery)
        .where(col(Delivery.subscriber_id).is_(None), col(Delivery.bulletin_id) == july.bulletin.id)
    ).one()
    assert erased == 1
    assert _rows(session)[("icon", "health")]["clickers"] == 4


def test_targeted_courses_have_rows_only_for_their_agencies_and_silent_agencies_show_zero(
    session: Session,
) -> None:
    build_july(session)
    rows = _rows(session)
    assert set(rows) == {("icon", "health"), ("icon", "police"), ("neglect", "police")}
    assert rows[("icon", "police")]["clickers_raw"] == 0
    assert rows[("neglect", "police")]["clickers"] == 1
    assert rows[("neglect", "police")]["unsubscribes"] == 1


def test_kinds_agency_and_course_filters_select_rows(session: Session) -> None:
    build_july(session)
    assert set(_rows(session, kinds=["briefing"])) == {("7mb-nai", "health"), ("7mb-nai", "police")}
    assert set(_rows(session, agency="police")) == {("icon", "police"), ("neglect", "police")}
    assert set(_rows(session, course="neglect")) == {("neglect", "police")}
    feedback = _rows(session, kinds=["feedback"])
    assert feedback[("https://example.org/feedback", "police")]["feedback_yes"] == 1
    assert _rows(session, month_from="2026-08") == {}


def test_small_numbers_are_hidden_and_rates_built_on_them_too(session: Session) -> None:
    build_july(session)
    icon = _rows(session, min_count=5)[("icon", "health")]
    assert icon["clickers"] == "<5"
    assert icon["clickers_raw"] == 5
    assert icon["delivered"] == 5
    assert icon["ctr"] == "suppressed"  # never "<5" in a rate column
    assert icon["ctr_raw"] == 100.0
    police = _rows(session, min_count=5)[("icon", "police")]
    assert police["delivered"] == "<5"
    assert police["clickers"] == 0
