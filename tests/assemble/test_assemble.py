"""Building and approving a month's bulletin from a plan."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from datetime import UTC, datetime

import lxml.html
import pytest
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import ApprovalRefused, BuildError, approve_bulletin, build_bulletin
from newsletter.assemble.build import KIND_LABELS
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.lifecycle import transition
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Event,
    EventType,
    Link,
    LinkKind,
    Variant,
    utcnow,
)
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.plan.digest import month_digest
from newsletter.plan.model import ItemUse, Section
from newsletter.tokens import delivery_token
from tests.conftest import REPO, make_settings
from tests.factories import make_delivery, make_subscriber
from tests.plan_factories import make_item, make_plan, make_theme


@pytest.fixture
def agencies(session: Session) -> list[str]:
    defs = read_agencies(REPO / "subscribers" / "agencies.yaml")
    sync_agencies(session, defs)
    session.flush()
    return [d.slug for d in defs]


def variant(result_variants: list[Variant], agency: str) -> Variant:
    return next(v for v in result_variants if v.agency == agency)


def test_a_build_makes_a_draft_with_one_variant_per_agency_in_agency_order(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    session.commit()

    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == "2026-07")).one()
    assert bulletin.status == BulletinStatus.draft
    assert bulletin.theme == "Non-Accidental Injuries"
    assert bulletin.plan_hash == "a" * 64
    assert bulletin.month_hash == month_digest(make_plan(), "2026-07")
    assert bulletin.for_children
    assert not bulletin.for_adults
    # 1st Tuesday of July 2026 at 09:00 London = 08:00 UTC.
    assert bulletin.send_at is not None
    assert bulletin.send_at.replace(tzinfo=UTC) == datetime(2026, 7, 7, 8, 0, tzinfo=UTC)
    assert bulletin.built_at is not None
    assert [v.agency for v in result.variants] == agencies
    assert result.checks_passed
    assert bulletin.checks_passed
    assert len(bulletin.checks) == 1 + 6 * len(agencies)


def test_items_targeted_at_other_agencies_are_left_out_of_a_variant(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)

    assert "Child protection medicals" in variant(result.variants, "health").html
    assert "Child protection medicals" in variant(result.variants, "health").text
    assert "Child protection medicals" not in variant(result.variants, "housing").html
    assert "Child protection medicals" not in variant(result.variants, "housing").text
    assert variant(result.variants, "housing").link_count == (
        variant(result.variants, "health").link_count - 1
    )


def test_a_section_left_empty_for_an_agency_is_omitted_for_it(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    police_only = make_item("police-review", title="Police-only review", agencies=("police",))
    theme = make_theme()
    theme = replace(
        theme,
        sections=(*theme.sections, Section(title="For officers", items=(ItemUse(police_only),))),
    )
    result = build_bulletin(session, settings, make_plan(theme), "2026-07", clock=clock)

    assert "For officers" in variant(result.variants, "police").html
    assert "For officers" not in variant(result.variants, "health").html
    assert "FOR OFFICERS" not in variant(result.variants, "health").text
    feedback = [
        link
        for link in result.links
        if link.kind == LinkKind.feedback and link.section == "For officers"
    ]
    assert [link.agencies for link in feedback] == [["police"], ["police"]]


def test_every_link_is_registered_with_its_meaning_and_tracked_through_the_redirect(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    links = session.exec(select(Link).order_by(col(Link.position))).all()

    assert [link.position for link in links] == list(range(1, len(links) + 1))
    course = next(link for link in links if link.catalogue_id == "child-neglect")
    assert course.kind == LinkKind.course
    assert course.section == "Training courses"
    assert course.title == "Child Neglect"
    assert course.url == "https://learning.example.org/courses/child-neglect"
    assert course.agencies is None
    medicals = next(link for link in links if link.catalogue_id == "cp-medicals")
    assert medicals.agencies == ["childrens-social-care", "health", "police"]
    prose = next(link for link in links if link.kind == LinkKind.other)
    assert prose.url == "https://iconcope.example.org/"
    assert prose.title == "ICON programme pages"

    health = variant(result.variants, "health")
    hrefs = [a.get("href") for a in lxml.html.document_fromstring(health.html).iter("a")]
    assert f"http://127.0.0.1:8000/c/{TOKEN}/{course.id}" in hrefs
    assert f"http://127.0.0.1:8000/c/{TOKEN}/{course.id}" in health.text
    assert f"http://127.0.0.1:8000/o/{TOKEN}.gif" in health.html
    assert "learning.example.org" not in health.html  # targets only behind the redirect


def test_sections_end_with_feedback_links_and_every_bulletin_has_a_hidden_honeypot(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)

    feedback = [link for link in result.links if link.kind == LinkKind.feedback]
    # Four sections, one of which asks for no feedback.
    assert [link.catalogue_id for link in feedback] == ["yes", "no"] * 3
    assert {link.url for link in feedback} == {"http://127.0.0.1:8000/feedback"}
    (honeypot,) = [link for link in result.links if link.kind == LinkKind.honeypot]
    doc = lxml.html.document_fromstring(variant(result.variants, "health").html)
    (anchor,) = [a for a in doc.iter("a") if a.get("href", "").endswith(f"/{honeypot.id}")]
    assert anchor.get("tabindex") == "-1"
    assert anchor.get("aria-hidden") == "true"
    assert "display:none" in anchor.get("style", "").replace(" ", "")
    assert anchor.getparent().get("aria-hidden") == "true"


def test_without_tracking_links_go_straight_to_the_target_with_utm_and_there_is_no_pixel(
    session: Session, tmp_path, database_url: str, clock: FakeClock, agencies: list[str]
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, tracking="off")
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)

    health = variant(result.variants, "health")
    assert (
        "https://learning.example.org/courses/child-neglect?utm_source=newsletter&amp;"
        "utm_medium=email&amp;utm_campaign=bulletin-2026-07&amp;utm_content=health"
    ) in health.html
    assert (
        "https://learning.example.org/courses/child-neglect?utm_source=newsletter&"
        "utm_medium=email&utm_campaign=bulletin-2026-07&utm_content=health"
    ) in health.text
    assert "/o/" not in health.html
    assert "/c/" not in health.html
    assert not [link for link in result.links if link.kind == LinkKind.honeypot]
    assert result.checks_passed


def test_per_recipient_placeholders_survive_inlining_and_personalise_cleanly(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    health = variant(result.variants, "health")

    # The stored variant is inlined (style attributes) yet keeps every placeholder verbatim.
    assert 'style="' in health.html
    for placeholder in (TOKEN, SUBSCRIBER, NAME):
        assert placeholder in health.html
        assert placeholder in health.text
    assert f"/u/{SUBSCRIBER}" in health.html
    assert f"/p/{SUBSCRIBER}" in health.html

    token = delivery_token(settings.secret, 42)
    values = {TOKEN: token, SUBSCRIBER: "sub-token", NAME: "Ann <O'Neil> & Co"}
    personal = personalise(health.html, html_values(values))
    assert "__NL_" not in personal
    assert f"/c/{token}/" in personal
    assert "/u/sub-token" in personal
    assert "Hello Ann &lt;O&#x27;Neil&gt; &amp; Co," in personal


def test_a_course_shows_its_format_and_book_by_date(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    health = variant(result.variants, "health")

    assert "Virtual classroom" in health.html
    assert "Friday 31 July 2026" in health.html
    assert "Book by: Friday 31 July 2026" in health.text
    assert KIND_LABELS["course"] in health.html


def test_the_email_is_accessible_html_for_mail_clients(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    html = variant(result.variants, "health").html
    doc = lxml.html.document_fromstring(html)

    assert doc.get("lang") == "en-GB"
    assert all(t.get("role") == "presentation" for t in doc.iter("table"))
    levels = [int(h.tag[1]) for h in doc.iter("h1", "h2", "h3", "h4")]
    assert levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert "@media only screen and (max-width: 620px)" in html  # kept as leftover CSS
    assert "flex" not in html
    assert "grid" not in html
    preheader = doc.find_class("preheader")[0]
    assert preheader.text_content().startswith("Reviews, resources and six courses on NAI")
    assert "mso-hide:all" in preheader.get("style", "")
    assert preheader is next(iter(doc.body))  # the first thing in the body


def test_a_rebuild_of_an_approved_bulletin_returns_it_to_draft_with_fresh_links(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    plan = make_plan()
    build_bulletin(session, settings, plan, "2026-07", clock=clock)
    bulletin = approve_bulletin(
        session, settings, plan, "2026-07", by="lead@example.org", clock=clock
    )
    assert bulletin.status == BulletinStatus.approved
    session.add(Event(bulletin_id=bulletin.id, agency="health", type=EventType.click))
    session.commit()

    edited = make_plan(make_theme(subject="July learning, revised"))
    result = build_bulletin(session, settings, edited, "2026-07", clock=clock)
    session.commit()

    assert result.bulletin.status == BulletinStatus.draft
    assert result.bulletin.approved_by is None
    assert result.bulletin.month_hash == month_digest(edited, "2026-07")
    assert result.bulletin.month_hash != month_digest(plan, "2026-07")
    assert len(session.exec(select(Variant)).all()) == len(agencies)
    assert len(session.exec(select(Link)).all()) == len(result.links)
    assert session.exec(select(Event)).all() == []


def test_a_bulletin_with_deliveries_cannot_be_rebuilt(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    subscriber = make_subscriber(session, agency="health")
    make_delivery(session, result.bulletin, subscriber, variant(result.variants, "health"))
    session.commit()

    with pytest.raises(BuildError, match="cannot be rebuilt"):
        build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)


@pytest.mark.parametrize("status", [BulletinStatus.sending, BulletinStatus.sent])
def test_a_bulletin_that_is_sending_or_sent_cannot_be_rebuilt(
    session: Session,
    settings: Settings,
    clock: FakeClock,
    agencies: list[str],
    status: BulletinStatus,
) -> None:
    plan = make_plan()
    result = build_bulletin(session, settings, plan, "2026-07", clock=clock)
    approve_bulletin(session, settings, plan, "2026-07", by="lead@example.org", clock=clock)
    transition(session, result.bulletin, BulletinStatus.sending, now=utcnow())
    if status == BulletinStatus.sent:
        transition(session, result.bulletin, BulletinStatus.sent, now=utcnow())
    session.commit()

    with pytest.raises(BuildError, match=f"is {status}"):
        build_bulletin(session, settings, plan, "2026-07", clock=clock)


def test_building_a_month_the_plan_does_not_have_is_a_clear_error_and_writes_nothing(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    with pytest.raises(BuildError, match="no theme for 2026-08"):
        build_bulletin(session, settings, make_plan(), "2026-08", clock=clock)
    assert session.exec(select(Bulletin)).all() == []


def test_building_without_agencies_is_a_clear_error(
    session: Session, settings: Settings, clock: FakeClock
) -> None:
    with pytest.raises(BuildError, match="no agencies"):
        build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)


def test_approval_records_who_and_when(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    plan = make_plan()
    build_bulletin(session, settings, plan, "2026-07", clock=clock)
    bulletin = approve_bulletin(
        session, settings, plan, "2026-07", by="lead@example.org", clock=clock
    )
    session.commit()

    assert bulletin.status == BulletinStatus.approved
    assert bulletin.approved_by == "lead@example.org"
    assert bulletin.approved_at is not None
    assert bulletin.approved_at.replace(tzinfo=UTC) == clock.now()


def test_a_bulletin_the_scheduler_marked_missed_can_still_be_approved_to_send_by_hand(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    plan = make_plan()
    built = build_bulletin(session, settings, plan, "2026-07", clock=clock)
    transition(session, built.bulletin, BulletinStatus.missed, now=utcnow())

    bulletin = approve_bulletin(
        session, settings, plan, "2026-07", by="lead@example.org", clock=clock
    )

    assert bulletin.status == BulletinStatus.approved


def test_approval_is_refused_while_checks_fail(
    session: Session, tmp_path, database_url: str, clock: FakeClock, agencies: list[str]
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, brand_colour="#9fc5ff")
    plan = make_plan()
    result = build_bulletin(session, settings, plan, "2026-07", clock=clock)
    assert not result.checks_passed

    with pytest.raises(ApprovalRefused) as refused:
        approve_bulletin(session, settings, plan, "2026-07", by="lead@example.org", clock=clock)
    assert any("contrast" in reason for reason in refused.value.reasons)
    assert result.bulletin.status == BulletinStatus.draft


def test_approval_is_refused_when_the_plan_changed_since_the_build(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)

    with pytest.raises(ApprovalRefused) as refused:
        approve_bulletin(
            session,
            settings,
            make_plan(make_theme(intro="A new introduction.")),
            "2026-07",
            by="x@example.org",
            clock=clock,
        )
    assert refused.value.reasons == [
        "the 2026-07 theme or a catalogue item it uses has changed in the plan since it was "
        "built; rebuild it and check it again"
    ]


def test_an_edit_to_another_month_leaves_a_bulletin_approvable(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    build_bulletin(session, settings, make_plan(make_theme()), "2026-07", clock=clock)

    # August is added, and a catalogue item July does not use changes: July is still current.
    august = make_theme("2026-08", subject="August learning", sections=())
    plan = make_plan(make_theme(), august, digest="b" * 64)
    plan = replace(plan, catalogue={**plan.catalogue, "unused": make_item("unused")})
    bulletin = approve_bulletin(session, settings, plan, "2026-07", by="x@example.org", clock=clock)

    assert bulletin.status == BulletinStatus.approved


def test_approval_is_refused_for_a_bulletin_that_is_not_a_draft_or_does_not_exist(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    plan = make_plan()
    with pytest.raises(ApprovalRefused, match="build it first"):
        approve_bulletin(session, settings, plan, "2026-07", by="x@example.org", clock=clock)
    build_bulletin(session, settings, plan, "2026-07", clock=clock)
    approve_bulletin(session, settings, plan, "2026-07", by="x@example.org", clock=clock)

    with pytest.raises(ApprovalRefused, match=r"only a draft \(or a missed one\) can be approved"):
        approve_bulletin(session, settings, plan, "2026-07", by="x@example.org", clock=clock)


def test_approval_is_refused_to_someone_not_on_the_approvers_list(
    session: Session, tmp_path, database_url: str, clock: FakeClock, agencies: list[str]
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, approvers=["lead@example.org"])
    plan = make_plan()
    build_bulletin(session, settings, plan, "2026-07", clock=clock)

    with pytest.raises(ApprovalRefused, match="not one of the approvers"):
        approve_bulletin(session, settings, plan, "2026-07", by="intern@example.org", clock=clock)
    approved = approve_bulletin(
        session, settings, plan, "2026-07", by="Lead@example.org", clock=clock
    )
    assert approved.status == BulletinStatus.approved


def test_the_text_part_has_no_html_and_its_links_are_full_urls(
    session: Session, settings: Settings, clock: FakeClock, agencies: list[str]
) -> None:
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    text = variant(result.variants, "health").text

    assert re.search(r"<[a-zA-Z/][^>]*>", text) is None
    assert "&amp;" not in text
    assert "During July the focus is on Non-Accidental Injuries (NAI)." in text
    assert "ICON programme pages (http://127.0.0.1:8000/c/__NL_TOKEN__/" in text
    assert "Unsubscribe from these bulletins: http://127.0.0.1:8000/u/__NL_SUBSCRIBER__" in text
