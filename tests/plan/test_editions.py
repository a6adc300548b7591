"""Extra editions: issue keys, and an extra bulletin of a month checked, timed and stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from newsletter.models import BulletinStatus
from newsletter.plan import (
    EDITION_MAX,
    IssueKey,
    LoadResult,
    calendar_month,
    edition_problem,
    is_key,
    key_label,
    load_plan,
    make_key,
    next_key_bound,
    parse_key,
    send_time,
)
from newsletter.plan.digest import month_digest
from newsletter.plan.loader import check_snapshot
from newsletter.plan.snapshot import CATALOGUE_DIR, THEMES_DIR, Snapshot, digest_of
from newsletter.plan.store import (
    current_revision,
    diff_revisions,
    export_documents,
    import_directory,
    restore_revision,
    revisions,
)
from newsletter.plan.timetable import send_info
from tests.factories import make_bulletin
from tests.plan_fixtures import (
    AGENCIES,
    CATALOGUE_YAML,
    EXTRA_YAML,
    PLAN_YAML,
    THEME_YAML,
    edit,
    where,
    write_extra,
    write_plan,
)

EXTRA = "themes/2026-07-correction.yaml"
LONDON = ZoneInfo("Europe/London")

months = st.builds(
    lambda year, mon: f"{year:04d}-{mon:02d}", st.integers(2000, 2099), st.integers(1, 12)
)
editions = st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,9}){0,3}", fullmatch=True)


# --- issue keys -------------------------------------------------------------------------------


@given(month=months, edition=editions)
def test_a_key_made_from_a_month_and_an_edition_parses_back_to_them(
    month: str, edition: str
) -> None:
    key = make_key(month, edition)

    assert key == f"{month}-{edition}"
    assert parse_key(key) == IssueKey(month, edition)
    assert calendar_month(key) == month
    assert parse_key(key).is_extra


@given(month=months)
def test_a_month_is_the_key_of_its_own_bulletin(month: str) -> None:
    assert parse_key(month) == IssueKey(month)
    assert not parse_key(month).is_extra
    assert calendar_month(month) == month


@given(month=months, edition=editions, other=months)
def test_keys_sort_as_text_month_first_then_its_extras_then_the_next_month(
    month: str, edition: str, other: str
) -> None:
    keys = [month, make_key(month, edition), other]

    assert sorted(keys) == sorted(keys, key=parse_key)
    assert month < make_key(month, edition) < next_key_bound(month)
    assert (make_key(month, edition) < other) == (month < other)


@pytest.mark.parametrize(
    "value",
    [
        "2026-7",
        "2026-13",
        "2026-07-",
        "2026-07-Correction",
        "2026-07-15",  # reads as a date: an edition starts with a letter
        "2026-07-urgent--briefing",
        "2026-07-urgent_briefing",
        "2026-07-correction-",
        "2026-07-" + "a" * (EDITION_MAX + 1),
        " 2026-07",
        "2026-07\n",
        "",
    ],
)
def test_what_is_not_an_issue_key_is_refused_in_plain_words(value: str) -> None:
    assert not is_key(value)
    with pytest.raises(ValueError, match=r"is not a month|at most 40 characters"):
        parse_key(value)


def test_an_edition_name_of_forty_characters_is_the_longest_allowed() -> None:
    assert is_key("2026-07-" + "a" * EDITION_MAX)
    assert edition_problem("a" * (EDITION_MAX + 1)) == (
        "is 41 characters long; keep an edition's name to 40"
    )
    assert edition_problem("") is not None
    assert edition_problem("Urgent") is not None
    assert edition_problem("urgent-briefing") is None


def test_a_key_reads_as_its_month_and_edition() -> None:
    assert key_label("2026-07") == "July 2026"
    assert key_label("2026-07-urgent-briefing") == "July 2026 (urgent briefing)"


# --- the plan ---------------------------------------------------------------------------------


def test_an_extra_edition_loads_beside_its_month_with_its_own_send_time(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    write_extra(plan_dir)

    result = load_plan(plan_dir, agencies=AGENCIES)

    assert [str(e) for e in result.errors] == []
    assert result.plan is not None
    assert list(result.plan.themes) == ["2026-07", "2026-07-correction"]
    extra = result.plan.theme("2026-07-correction")
    assert extra.title == "Correction: Safer7 on Non-Accidental Injury"
    # 16 July 2026 at 10:00 in London (BST) is 09:00 UTC; July's own goes out on 7 July.
    assert send_time(result.plan, extra) == datetime(2026, 7, 16, 9, 0, tzinfo=UTC)
    assert send_time(result.plan, result.plan.theme("2026-07")) == datetime(
        2026, 7, 7, 8, 0, tzinfo=UTC
    )
    info = send_info(result.plan, extra)
    assert (info.month, info.date_overridden, info.moved_from) == ("2026-07-correction", True, None)
    assert month_digest(result.plan, "2026-07-correction") != month_digest(result.plan, "2026-07")


def test_an_extra_edition_without_its_own_send_date_is_refused_beside_its_send_field(
    tmp_path: Path,
) -> None:
    plan_dir = write_plan(tmp_path)
    extra = write_extra(plan_dir)
    edit(extra, 'send:\n  date: 2026-07-16\n  time: "10:00"\n', "")

    errors = load_plan(plan_dir, agencies=AGENCIES).errors

    assert [(where(e, plan_dir), e.field, e.message) for e in errors] == [
        (
            "themes/2026-07-correction.yaml:1",
            "send.date",
            "is required for an extra edition: it goes out on a day of its own, "
            'e.g. send: {date: 2026-07-20, time: "10:00"}',
        )
    ]


def test_an_extra_edition_sent_outside_its_month_is_refused(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    extra = write_extra(plan_dir)
    edit(extra, "date: 2026-07-16", "date: 2026-08-03")

    errors = load_plan(plan_dir, agencies=AGENCIES).errors

    assert [(where(e, plan_dir), e.field, e.message) for e in errors] == [
        (
            "themes/2026-07-correction.yaml:7",
            "send.date",
            "2026-08-03 is not in 2026-07; an extra edition of 2026-07 goes out in that month",
        )
    ]


def test_an_extra_edition_at_the_same_time_as_its_months_bulletin_is_refused(
    tmp_path: Path,
) -> None:
    plan_dir = write_plan(tmp_path)
    extra = write_extra(plan_dir)
    edit(extra, "date: 2026-07-16", "date: 2026-07-07")
    edit(extra, 'time: "10:00"', 'time: "09:00"')

    errors = load_plan(plan_dir, agencies=AGENCIES).errors

    assert [(where(e, plan_dir), e.field, e.message) for e in errors] == [
        (
            "themes/2026-07-correction.yaml:8",
            "send.time",
            "2026-07 goes out at the same time (09:00 on 7 July 2026); give this extra "
            "edition another date or time",
        )
    ]


def test_an_extra_edition_file_must_be_named_after_its_key(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    write_extra(plan_dir, name="2026-07-corrections")

    errors = load_plan(plan_dir, agencies=AGENCIES).errors

    assert [(where(e, plan_dir), e.message) for e in errors] == [
        (
            "themes/2026-07-corrections.yaml:1",
            "the file is named 2026-07-corrections.yaml but is for 2026-07-correction; "
            "rename it 2026-07-correction.yaml",
        )
    ]


def test_an_edition_name_that_is_not_usable_is_explained(tmp_path: Path) -> None:
    plan_dir = write_plan(tmp_path)
    write_extra(
        plan_dir,
        EXTRA_YAML.replace("month: 2026-07-correction", "month: 2026-07-Correction"),
        name="2026-07-Correction",
    )

    errors = load_plan(plan_dir, agencies=AGENCIES).errors

    assert [(e.field, e.message) for e in errors] == [
        (
            "month",
            "'2026-07-Correction' is not a month; write it as YYYY-MM for a month's bulletin "
            "(e.g. 2026-07) or YYYY-MM-name for an extra edition (e.g. 2026-07-correction)",
        )
    ]


def test_a_month_may_carry_an_extra_edition_without_a_bulletin_of_its_own(
    tmp_path: Path,
) -> None:
    plan_dir = write_plan(tmp_path)
    write_extra(plan_dir, EXTRA_YAML.replace("2026-07", "2026-08"), name="2026-08-correction")

    result = load_plan(plan_dir, agencies=AGENCIES)

    assert result.plan is not None
    assert list(result.plan.themes) == ["2026-07", "2026-08-correction"]


def _check(files: dict[str, str]) -> LoadResult:
    """The fixture plan (July 2026) with ``files`` added, checked in memory."""
    encoded = {
        "plan.yaml": PLAN_YAML.encode(),
        f"{CATALOGUE_DIR}/items.yaml": CATALOGUE_YAML.encode(),
        f"{THEMES_DIR}/2026-07.yaml": THEME_YAML.encode(),
        **{name: text.encode() for name, text in files.items()},
    }
    snapshot = Snapshot(
        Path("campaigns"), True, frozenset({CATALOGUE_DIR, THEMES_DIR}), encoded, digest_of(encoded)
    )
    return check_snapshot(snapshot, agencies=AGENCIES)


@settings(max_examples=40)
@given(
    edition=editions,
    day=st.integers(1, 31),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
)
def test_any_extra_edition_of_july_loads_at_its_own_time_or_is_refused_in_words(
    edition: str, day: int, hour: int, minute: int
) -> None:
    key = make_key("2026-07", edition)
    text = EXTRA_YAML.replace("month: 2026-07-correction", f"month: {key}")
    text = text.replace("date: 2026-07-16", f"date: 2026-07-{day:02d}")
    text = text.replace('time: "10:00"', f'time: "{hour:02d}:{minute:02d}"')

    result = _check({f"{THEMES_DIR}/{key}.yaml": text})

    clash = (day, hour, minute) == (7, 9, 0)  # July's own: the first Tuesday at 09:00
    if clash:
        assert [e.message.split(";")[0] for e in result.errors] == [
            "2026-07 goes out at the same time (09:00 on 7 July 2026)"
        ]
        return
    assert [str(e) for e in result.errors] == []
    assert result.plan is not None
    assert list(result.plan.themes) == ["2026-07", key]
    local = send_time(result.plan, result.plan.theme(key)).astimezone(LONDON)
    assert (local.day, local.hour, local.minute) == (day, hour, minute)


# --- the store --------------------------------------------------------------------------------


def _import(session: Session, path: Path, message: str = "test import") -> int:
    saved = import_directory(
        session, path, agencies=AGENCIES, author="ed@example.org", message=message
    )
    session.commit()
    return saved.revision.number


def test_an_extra_edition_goes_through_import_export_import_unchanged(
    session: Session, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path / "a")
    write_extra(plan_dir)
    first = _import(session, plan_dir)
    revision = current_revision(session)
    assert revision is not None
    assert EXTRA in revision.documents
    out = tmp_path / "exported"

    export_documents(revision.documents, out)
    saved = import_directory(session, out, agencies=AGENCIES, author="ed", message="again")

    assert not saved.created
    assert saved.revision.number == first
    assert (out / EXTRA).read_bytes() == (plan_dir / EXTRA).read_bytes()


def test_an_extra_edition_is_compared_and_restored_like_a_month(
    session: Session, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path)
    _import(session, plan_dir)
    write_extra(plan_dir)
    _import(session, plan_dir)

    diff = diff_revisions(session, 1, 2)
    restored = restore_revision(session, 1, base=2, author="ann", message="", agencies=AGENCIES)
    session.commit()

    assert f"revision 2/{EXTRA}" in diff
    assert "+month: 2026-07-correction" in diff
    assert EXTRA not in restored.revision.documents
    assert [r.number for r in revisions(session)] == [3, 2, 1]


def test_a_sent_extra_edition_keeps_its_theme_as_sent_while_its_month_may_change(
    session: Session, tmp_path: Path
) -> None:
    plan_dir = write_plan(tmp_path)
    extra = write_extra(plan_dir)
    _import(session, plan_dir)
    digest = current_revision(session).digest  # type: ignore[union-attr]
    make_bulletin(session, month="2026-07-correction", status=BulletinStatus.sent, plan_hash=digest)
    session.commit()
    edit(extra, "Here is the right one.", "Here is another one.")
    edit(plan_dir / "themes" / "2026-07.yaml", "title: Training", "title: Courses to book")

    saved = import_directory(session, plan_dir, agencies=AGENCIES, author="ed", message="")
    session.commit()

    assert saved.kept_as_sent == ("2026-07-correction",)
    assert "Here is the right one." in saved.revision.documents[EXTRA]
    assert "title: Courses to book" in saved.revision.documents["themes/2026-07.yaml"]
