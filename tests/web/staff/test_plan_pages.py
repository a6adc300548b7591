"""The plan pages over HTTP: who may save, CSRF, sign-in, errors beside fields, lost updates,
previews, the catalogue's rules and the activity log. (The journey in a browser is in
test_plan_browser.py.)"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, BulletinStatus
from newsletter.plan.store import current_revision, revisions
from tests.factories import make_bulletin, make_user
from tests.web.staff.support import sign_in_fully, staff_client

DECEMBER = "/admin/plan/months/2026-12"


class _Form(HTMLParser):
    """The fields a browser would send for the first form whose action is ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.done = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and a.get("action") == self.action:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""
        elif tag == "option" and "selected" in a and self._select is not None:
            self.fields.append((self._select, a.get("value", "")))
        if tag == "select":
            self._select = a.get("name")

    _select: str | None = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None and self.inside:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_of(page: Response, action: str) -> dict[str, list[str]]:
    parser = _Form(action)
    parser.feed(page.text)
    out: dict[str, list[str]] = {}
    for name, value in parser.fields:
        out.setdefault(name, []).append(value)
    assert out, f"no form posting to {action}"
    return out


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


def save(client: TestClient, path: str, changes: dict[str, list[str]]) -> Response:
    form = form_of(client.get(path), path)
    form.update(changes)
    form["action"] = ["save"]
    response: Response = client.post(path, data=form)
    return response


def test_an_editor_saves_a_month_as_a_new_revision_and_it_is_in_the_activity_log(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    response = save(ann, DECEMBER, {"title": ["Safer Sleep at Christmas"], "message": ["retitle"]})

    assert response.status_code == 303, response.text
    assert ann.get(DECEMBER).text.count("December 2026 saved as revision 2") == 1
    with Session(site) as session:
        revision = current_revision(session)
        assert revision is not None
        assert "title: Safer Sleep at Christmas" in revision.documents["themes/2026-12.yaml"]
        assert (revision.author, revision.message) == ("ann@example.org", "retitle")
        entry = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.action) == "plan.save")
        ).one()
        assert (entry.actor, entry.object) == ("ann@example.org", "plan:2026-12")


def test_a_month_with_an_error_shows_it_beside_its_field_in_plan_check_words_and_saves_nothing(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    wrong_date = save(ann, DECEMBER, {"send_date": ["2026-11-30"]})
    no_subject = save(ann, DECEMBER, {"subject": [""]})

    assert wrong_date.status_code == 400
    assert 'id="send-date-error1"' in wrong_date.text
    assert (
        "2026-11-30 is not in 2026-12; a month&#39;s bulletin goes out in that" in wrong_date.text
    )
    assert no_subject.status_code == 400
    assert '<a href="#subject">subject: is required but missing</a>' in no_subject.text
    assert 'id="subject-error1"' in no_subject.text
    with Session(site) as session:
        assert [r.number for r in revisions(session)] == [1]


def test_an_approver_without_the_editor_role_gets_403_on_a_save(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    form = form_of(ann.get(DECEMBER), DECEMBER)
    carol = signed_in(settings, site, clock, "carol@example.org")
    calendar = carol.get("/admin/calendar")
    assert calendar.status_code == 200
    token = form_of(calendar, "/admin/sign-out")["csrf"]

    response = carol.post(DECEMBER, data={**form, "csrf": token, "title": ["Mine"]})

    assert response.status_code == 403
    assert carol.get(DECEMBER).status_code == 403
    assert carol.post("/admin/catalogue", data={"csrf": token, "id": "x"}).status_code == 403
    with Session(site) as session:
        assert [r.number for r in revisions(session)] == [1]


def test_a_forged_csrf_token_gets_403_and_a_signed_out_save_goes_to_sign_in(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    form = form_of(ann.get(DECEMBER), DECEMBER)

    forged = ann.post(DECEMBER, data={**form, "csrf": ["forged"], "action": ["save"]})
    with staff_client(settings, site, clock) as stranger:
        anonymous = stranger.post(DECEMBER, data={**form, "action": ["save"]})
        page = stranger.get("/admin/calendar")

    assert forged.status_code == 403
    assert anonymous.status_code in (303, 403)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/admin/sign-in")


def test_a_save_over_an_older_revision_is_refused_with_the_difference_and_keeps_the_edit(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    stale_form = form_of(ann.get(DECEMBER), DECEMBER)
    assert save(ann, DECEMBER, {"title": ["Safer Sleep at Christmas"]}).status_code == 303

    stale_form.update({"title": ["Sleep Safe"], "action": ["save"]})
    response = ann.post(DECEMBER, data=stale_form)

    assert response.status_code == 409
    assert "Not saved: someone else changed the plan" in response.text
    assert "+title: Safer Sleep at Christmas" in response.text
    assert 'value="Sleep Safe"' in response.text
    with Session(site) as session:
        assert [r.number for r in revisions(session)] == [2, 1]


def test_the_form_buttons_change_the_month_without_saving_it(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    form = form_of(ann.get(DECEMBER), DECEMBER)

    searched = ann.post(DECEMBER, data={**form, "q": ["exploitation"], "action": ["search"]})
    added = ann.post(
        DECEMBER, data={**form, "add_to": ["1"], "action": ["add-item:course-exploitation"]}
    )
    removed = ann.post(DECEMBER, data={**form, "action": ["remove-section:0"]})

    assert "Child Exploitation: Recognising and Responding" in searched.text
    assert 'name="sections-1-items-2-ref" value="course-exploitation"' in added.text
    assert "Helpful Resources" not in form_of(removed, DECEMBER)["sections-0-title"]
    with Session(site) as session:
        assert [r.number for r in revisions(session)] == [1]


def test_a_preview_shows_one_agencys_variant_of_the_unsaved_month(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    form = form_of(ann.get(DECEMBER), DECEMBER)
    form["title"] = ["Unsaved Title"]
    form["sections-1-items-0-agencies"] = ["health"]

    health = ann.post(f"{DECEMBER}/preview", data={**form, "preview_agency": ["health"]})
    police = ann.post(f"{DECEMBER}/preview", data={**form, "preview_agency": ["police"]})

    assert health.status_code == 200
    assert "Unsaved Title" in health.text
    assert "style-src 'unsafe-inline'" in health.headers["content-security-policy"]
    assert "Safer Sleep for Babies" in health.text
    assert "Safer Sleep for Babies" not in police.text
    with Session(site) as session:
        assert [r.number for r in revisions(session)] == [1]


def test_a_month_already_sent_cannot_be_saved(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    form = form_of(ann.get(DECEMBER), DECEMBER)
    with Session(site) as session:
        make_bulletin(session, month="2026-12", status=BulletinStatus.sent)
        session.commit()

    response = ann.post(DECEMBER, data={**form, "title": ["Changed"], "action": ["save"]})

    assert response.status_code == 409
    assert "was sent: its theme is kept as it was sent" in ann.get(DECEMBER).text


def test_an_editor_adds_a_course_and_cannot_retire_one_that_planned_months_use(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    new = form_of(ann.get("/admin/catalogue/new?kind=course"), "/admin/catalogue")
    new.update(
        {
            "id": ["course-new"],
            "title": ["A new course"],
            "summary": ["What it covers."],
            "url": ["https://learning.example.org/new"],
            "link_text": ["Book the new course"],
            "format": ["eLearning"],
            "booking_closes": [""],
            "action": ["save"],
        }
    )
    missing = ann.post("/admin/catalogue", data=new)
    new["booking_closes"] = ["2027-12-31"]
    added = ann.post("/admin/catalogue", data=new)
    icon = form_of(ann.get("/admin/catalogue/course-icon"), "/admin/catalogue")
    retire = ann.post("/admin/catalogue", data={**icon, "action": ["retire"]})
    assert added.status_code == 303, added.text[added.text.find("error-summary") :][:1500]
    unused = form_of(ann.get("/admin/catalogue/course-new"), "/admin/catalogue")
    retired = ann.post("/admin/catalogue", data={**unused, "action": ["retire"]})

    assert missing.status_code == 400
    assert "is required for a course: the last day people can book" in missing.text
    assert added.status_code == 303
    assert retire.status_code == 400
    assert "&#39;course-icon&#39; is retired; choose another item" in retire.text
    assert retired.status_code == 303
    catalogue = ann.get("/admin/catalogue?show=all&q=new+course")
    assert "retired" in catalogue.text
    with Session(site) as session:
        actions = session.exec(
            select(ActivityEntry.action).where(col(ActivityEntry.object) == "catalogue:course-new")
        ).all()
        assert sorted(actions) == ["catalogue.retire", "catalogue.save"]


def test_the_calendar_shows_each_months_status_and_what_is_planned_next(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    with Session(site) as session:
        make_bulletin(session, month="2026-07", status=BulletinStatus.sent)
        make_bulletin(session, month="2026-08", status=BulletinStatus.draft, checks_passed=True)
        session.commit()
    carol = signed_in(settings, site, clock, "carol@example.org")

    page = carol.get("/admin/calendar")

    assert page.status_code == 200
    rows = {
        row.split("</th>")[0].rsplit(">", 1)[-1]: row
        for row in page.text.split('<tr id="month-')[1:]
    }
    assert "sent" in rows["July 2026"]
    assert "out of date" in rows["August 2026"]  # built from no revision of this plan
    assert "date set for this month" in rows["November 2026"]
    assert "/admin/plan/months/" not in page.text  # an approver is not offered the editor
    assert len(rows) >= 18
