"""Extra editions in the staff app over HTTP: added from a month in the editor, listed under
their month in the calendar, built and reviewed on their own bulletin page. (The journey in a
browser is in test_plan_browser.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, Bulletin, BulletinStatus
from newsletter.plan.store import current_revision
from tests.factories import make_bulletin, make_user
from tests.web.staff.support import csrf, sign_in_fully, staff_client
from tests.web.staff.test_plan_pages import form_of

KEY = "2026-12-correction"
EDITOR = f"/admin/plan/months/{KEY}"
ADD = "/admin/plan/months/2026-12/extra"


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: FakeClock) -> Engine:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        make_user(session, email="ann@example.org", roles=["editor"])
        make_user(session, email="carol@example.org", roles=["approver"])
        session.commit()
    return engine


def signed_in(settings: Settings, engine: Engine, clock: FakeClock, email: str) -> TestClient:
    client = staff_client(settings, engine, clock).__enter__()
    sign_in_fully(client, clock, email)
    return client


def add_correction(ann: TestClient, send_date: str = "2026-12-01") -> None:
    """Add the correction, a copy of December's theme, out on ``send_date`` at 14:00."""
    page = ann.get(
        ADD,
        params={"edition": "correction", "title": "Correction: Safer Sleep", "start": "2026-12"},
    )
    assert page.status_code == 200, page.text
    form = form_of(page, EDITOR)
    form.update(send_date=[send_date], send_time=["14:00"], action=["save"])
    saved = ann.post(EDITOR, data=form)
    assert saved.status_code == 303, saved.text


def test_an_editor_adds_an_extra_edition_from_the_months_theme_and_saves_it(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    offer = ann.get("/admin/calendar")
    start = ann.get(ADD)
    editor = ann.get(
        ADD,
        params={"edition": "correction", "title": "Correction: Safer Sleep", "start": "2026-12"},
    )

    assert 'href="/admin/plan/months/2026-12/extra"' in offer.text
    assert start.status_code == 200
    assert "Add an extra edition to December 2026" in start.text
    assert editor.status_code == 200
    assert "December 2026 (correction): Correction: Safer Sleep" in editor.text
    assert "Copied from December 2026" in editor.text
    form = form_of(editor, EDITOR)
    assert form["title"] == ["Correction: Safer Sleep"]
    assert form["send_date"] == [""]  # its own date is for the editor to choose
    form["action"] = ["save"]

    refused = ann.post(EDITOR, data=form)
    form.update(send_date=["2026-12-01"], send_time=["14:00"])
    saved = ann.post(EDITOR, data=form)

    assert refused.status_code == 400
    assert "is required for an extra edition" in refused.text
    assert saved.status_code == 303, saved.text
    with Session(site) as session:
        revision = current_revision(session)
        assert revision is not None
        text = revision.documents[f"themes/{KEY}.yaml"]
        assert text.startswith(f"month: {KEY}\ntitle: 'Correction: Safer Sleep'\n")
        assert "themes/2026-12.yaml" in revision.documents
        entry = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.object) == f"plan:{KEY}")
        ).one()
        assert (entry.action, entry.actor) == ("plan.save", "ann@example.org")


@pytest.mark.parametrize(
    ("edition", "title", "message"),
    [
        ("Correction", "A title", "The short name may use only lower-case letters"),
        ("", "A title", "is empty; give the edition a short name"),
        ("x" * 41, "A title", "is 41 characters long"),
        ("correction", "", "Enter the edition&#39;s title"),
    ],
)
def test_an_unusable_edition_name_or_a_missing_title_is_said_beside_its_field(
    settings: Settings, site: Engine, clock: FakeClock, edition: str, title: str, message: str
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    page = ann.get(ADD, params={"edition": edition, "title": title, "start": ""})

    assert page.status_code == 400
    assert page.text.count(message) == 2  # in the summary and beside the field
    assert "Error: Add an extra edition" in page.text


def test_an_edition_name_a_month_already_has_is_refused(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)

    page = ann.get(ADD, params={"edition": "correction", "title": "Again", "start": ""})

    assert page.status_code == 400
    assert "December 2026 already has an extra edition named correction" in page.text


def test_the_calendar_lists_an_extra_edition_under_its_month_with_its_own_send_time(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)

    page = ann.get("/admin/calendar").text

    order = [page.index(f'<tr id="month-{key}"') for key in ("2026-12", KEY, "2027-01")]
    assert order == sorted(order)
    row = page.split(f'<tr id="month-{KEY}"')[1].split("</tr>")[0]
    assert "extra edition" in row
    assert "December 2026 (correction)" in row
    assert "Correction: Safer Sleep" in row
    assert "its own date" in row
    assert "Tuesday 1 December 2026, 2pm" in row
    assert "planned" in row


def test_an_extra_edition_is_built_and_reviewed_on_its_own_bulletin_page(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)
    page = f"/admin/bulletins/{KEY}"

    built = ann.post(f"{page}/build", data={"csrf": csrf(ann, page)})
    shown = ann.get(page)
    variant = ann.get(f"{page}/variants/health")

    assert built.status_code == 303, built.text
    assert shown.status_code == 200
    assert "December 2026 (correction): Correction: Safer Sleep" in shown.text
    assert variant.status_code == 200
    assert "Thematic learning bulletin, December 2026 (correction)" in variant.text
    with Session(site) as session:
        keys = session.exec(select(Bulletin.month)).all()
        assert keys == [KEY]  # December's own bulletin is not built by building its extra
        entry = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.object) == f"bulletin:{KEY}")
        ).one()
        assert entry.action == "bulletin.build"


def test_the_bulletin_list_names_an_extra_edition_as_people_say_it(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)
    page = f"/admin/bulletins/{KEY}"
    ann.post(f"{page}/build", data={"csrf": csrf(ann, page)})

    listed = ann.get("/admin/bulletins")

    assert listed.status_code == 200
    assert f'<a href="{page}">December 2026 (correction)</a>' in listed.text


@pytest.mark.parametrize("key", ["2026-12-Correction", "2026-12-15", "2026-12-"])
def test_a_bulletin_page_for_something_that_is_not_a_key_is_not_found(
    settings: Settings, site: Engine, clock: FakeClock, key: str
) -> None:
    carol = signed_in(settings, site, clock, "carol@example.org")

    assert carol.get(f"/admin/bulletins/{key}").status_code == 404


def test_adding_an_extra_edition_leaves_the_months_built_draft_up_to_date(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    page = "/admin/bulletins/2026-12"
    assert ann.post(f"{page}/build", data={"csrf": csrf(ann, page)}).status_code == 303

    add_correction(ann)
    calendar = ann.get("/admin/calendar").text

    row = calendar.split('<tr id="month-2026-12"')[1].split("</tr>")[0]
    assert "out of date" not in row
    assert '<strong class="tag tag--yellow">awaiting approval</strong>' in row


def test_the_dashboard_names_an_extra_edition_awaiting_approval_by_its_month_and_edition(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)
    page = f"/admin/bulletins/{KEY}"
    assert ann.post(f"{page}/build", data={"csrf": csrf(ann, page)}).status_code == 303
    assert ann.post(f"{page}/ask", data={"csrf": csrf(ann, page)}).status_code == 303
    carol = signed_in(settings, site, clock, "carol@example.org")

    home = carol.get("/admin/").text

    mine = home[home.index('id="for-you"') :]
    assert f'href="/admin/bulletins/{KEY}">December 2026 (correction)' in mine


def test_the_month_editor_offers_an_extra_edition_and_an_extra_says_whose_it_is(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)

    month = ann.get("/admin/plan/months/2026-12").text
    extra = ann.get(EDITOR).text

    assert (
        '<a href="/admin/plan/months/2026-12/extra">Add an extra edition to December 2026</a>'
        in (month)
    )
    assert "An extra edition of December 2026, with a send date of its own." in extra
    assert "/extra" not in extra


def test_a_month_already_sent_may_still_carry_a_correction(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    with Session(site) as session:
        make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
        session.commit()
    ann = signed_in(settings, site, clock, "ann@example.org")

    calendar = ann.get("/admin/calendar").text
    july = calendar.split('<tr id="month-2026-07"')[1].split("</tr>")[0]
    page = ann.get(
        "/admin/plan/months/2026-07/extra",
        params={"edition": "correction", "title": "Correction: the ICON link", "start": ""},
    )

    assert "sent" in july
    assert 'href="/admin/plan/months/2026-07/extra"' in july
    assert page.status_code == 200
    assert "July 2026 (correction): Correction: the ICON link" in page.text


def test_an_approver_approves_an_extra_edition_and_the_approval_is_its_own(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    add_correction(ann)
    page = f"/admin/bulletins/{KEY}"
    assert ann.post(f"{page}/build", data={"csrf": csrf(ann, page)}).status_code == 303
    carol = signed_in(settings, site, clock, "carol@example.org")

    approved = carol.post(f"{page}/approve", data={"csrf": csrf(carol, page)})
    shown = carol.get(page).text

    assert approved.status_code == 303, approved.text
    assert "December 2026 (correction) approved" in shown
    with Session(site) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == KEY)).one()
        assert (bulletin.status, bulletin.approved_by) == ("approved", "carol@example.org")
        entry = session.exec(
            select(ActivityEntry).where(
                col(ActivityEntry.object) == f"bulletin:{KEY}",
                col(ActivityEntry.action) == "bulletin.approve",
            )
        ).one()
        assert entry.actor == "carol@example.org"
