"""The bulletin page over HTTP: build, previews, proofs, asking for approval by email, rejecting
with a comment, approving under four eyes, what was approved, and the activity log. (The
journey in a browser is in test_bulletin_browser.py.)"""

from __future__ import annotations

import email
import re
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import ActivityEntry, Bulletin, BulletinReview, Delivery
from tests.factories import make_bulletin, make_user
from tests.tracking.test_web import BROWSER
from tests.web.staff.support import csrf, sign_in_fully, staff_client

MONTH = "2026-12"
PAGE = f"/admin/bulletins/{MONTH}"


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: FakeClock) -> Engine:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        make_user(session, email="ann@example.org", roles=["editor"])
        make_user(session, email="carol@example.org", roles=["approver"])
        make_user(session, email="eve@example.org", roles=["editor", "approver"])
        session.commit()
    return engine


def signed_in(settings: Settings, engine: Engine, clock: FakeClock, email: str) -> TestClient:
    client = staff_client(settings, engine, clock).__enter__()
    sign_in_fully(client, clock, email)
    return client


def post(client: TestClient, path: str, form: dict[str, str] | None = None) -> Response:
    response: Response = client.post(path, data={**(form or {}), "csrf": csrf(client, PAGE)})
    return response


def notifications(settings: Settings) -> list[Message]:
    folder = Path(settings.data_dir, "outbox", "notifications")
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def body_of(message: Message) -> str:
    part = message.get_body(("plain",)) if hasattr(message, "get_body") else message
    payload = (part or message).get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def edit_month(client: TestClient, title: str) -> None:
    from tests.web.staff.test_plan_pages import save

    response = save(client, f"/admin/plan/months/{MONTH}", {"title": [title]})
    assert response.status_code == 303, response.text


def test_an_editor_builds_the_month_and_sees_each_agency_previewed_with_checks_and_links(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    built = post(ann, f"{PAGE}/build")
    page = ann.get(PAGE)

    assert built.status_code == 303, built.text
    assert page.status_code == 200
    with Session(site) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        agencies = [a.slug for a in read_agencies(settings.subscribers_dir / "agencies.yaml")]
    first = agencies[0]
    assert page.text.count(f'<iframe sandbox="" src="{PAGE}/variants/{first}"') == 2  # 600, 375
    for agency in agencies:
        shown = ann.get(PAGE, params={"agency": agency}).text
        assert shown.count(f'<iframe sandbox="" src="{PAGE}/variants/{agency}"') == 2
        preview = ann.get(f"{PAGE}/variants/{agency}")
        assert preview.status_code == 200
        assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
        assert "script-src" not in preview.headers["content-security-policy"]
    assert 'class="inbox__subject"' in page.text
    assert bulletin.subject[:40].replace("'", "&#39;") in page.text
    assert "Text part of the" in page.text
    assert 'id="checks"' in page.text
    assert "Ask for approval" in page.text
    with Session(site) as session:
        actions = session.exec(select(ActivityEntry.action)).all()
    assert "bulletin.build" in actions


def test_ask_for_approval_emails_every_approver_a_link_to_the_page_and_no_shell_command(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303

    asked = post(ann, f"{PAGE}/ask")

    assert asked.status_code == 303, asked.text
    messages = notifications(settings)
    assert sorted(parseaddr(m["To"])[1] for m in messages) == [
        "carol@example.org",
        "eve@example.org",
    ]
    text = body_of(messages[0])
    assert f"{settings.public_base_url.rstrip('/')}{PAGE}" in text
    assert "newsletter " not in text
    assert "    newsletter" not in text
    assert "Asked 2 approvers" in ann.get(PAGE).text


def test_an_approver_rejects_with_a_comment_the_editor_sees_and_an_empty_comment_is_refused(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303
    assert post(ann, f"{PAGE}/ask").status_code == 303
    carol = signed_in(settings, site, clock, "carol@example.org")

    empty = post(carol, f"{PAGE}/reject", {"comment": "  "})
    rejected = post(carol, f"{PAGE}/reject", {"comment": "The police course date is wrong."})

    assert empty.status_code == 400
    assert "say what needs to change" in empty.text
    assert rejected.status_code == 303
    seen = ann.get(PAGE).text
    assert "carol@example.org rejected this" in seen
    assert "The police course date is wrong." in seen
    assert post(ann, f"{PAGE}/reject", {"comment": "x"}).status_code == 403
    with Session(site) as session:
        entry = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.action) == "bulletin.reject")
        ).one()
        assert (entry.actor, entry.detail) == (
            "carol@example.org",
            "The police course date is wrong.",
        )


def test_the_person_who_changed_the_month_cannot_approve_it_but_another_approver_can(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    eve = signed_in(settings, site, clock, "eve@example.org")
    edit_month(eve, "Safer Sleep at Christmas")
    assert post(eve, f"{PAGE}/build").status_code == 303

    refused = post(eve, f"{PAGE}/approve")
    page = eve.get(PAGE).text
    carol = signed_in(settings, site, clock, "carol@example.org")
    approved = post(carol, f"{PAGE}/approve")

    assert refused.status_code == 400
    assert "eve@example.org changed 2026-12" in refused.text
    assert "somebody else must approve it (four eyes)" in page
    assert approved.status_code == 303, approved.text
    with Session(site) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        assert (bulletin.status, bulletin.approved_by) == ("approved", "carol@example.org")


def test_four_eyes_off_lets_the_editor_approve_their_own_change(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    own = settings.model_copy(update={"four_eyes": False})
    eve = signed_in(own, site, clock, "eve@example.org")
    edit_month(eve, "Safer Sleep at Christmas")
    assert post(eve, f"{PAGE}/build").status_code == 303

    approved = post(eve, f"{PAGE}/approve")

    assert approved.status_code == 303, approved.text


def test_an_approval_records_the_revision_and_variants_and_a_later_change_is_out_of_date(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303
    carol = signed_in(settings, site, clock, "carol@example.org")
    assert post(carol, f"{PAGE}/approve").status_code == 303

    edit_month(ann, "Safer Sleep at Christmas")
    page = ann.get(PAGE).text

    with Session(site) as session:
        approval = session.exec(
            select(BulletinReview).where(col(BulletinReview.action) == "approved")
        ).one()
        agencies = {a.slug for a in read_agencies(settings.subscribers_dir / "agencies.yaml")}
    assert approval.revision == 1
    assert set(approval.variants) == agencies
    assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in approval.variants.values())
    assert 'id="status">out of date<' in page
    assert "rebuild the draft and ask for approval again" in page


def test_an_editor_without_the_approver_role_cannot_approve(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303

    assert post(ann, f"{PAGE}/approve").status_code == 403
    assert "Only an approver can approve" in ann.get(PAGE).text


def test_proofs_go_to_me_or_a_list_for_one_agency_name_it_and_are_never_counted(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303
    agencies = read_agencies(settings.subscribers_dir / "agencies.yaml")
    police = next(a for a in agencies if a.slug == "police")

    to_me = post(ann, f"{PAGE}/proof", {"to": "me"})
    to_list = post(
        ann,
        f"{PAGE}/proof",
        {"to": "list", "addresses": "a@example.org, b@example.org", "agency": "police"},
    )
    wrong = post(ann, f"{PAGE}/proof", {"to": "list", "addresses": "not-an-address"})

    assert to_me.status_code == 303
    assert to_list.status_code == 303
    files = sorted(Path(settings.data_dir, "outbox", MONTH).glob("*.eml"))
    messages = [email.message_from_bytes(p.read_bytes()) for p in files]
    mine = [m for m in messages if parseaddr(m["To"])[1] == "ann@example.org"]
    theirs = [m for m in messages if parseaddr(m["To"])[1] in ("a@example.org", "b@example.org")]
    assert len(mine) == len(agencies)
    assert len(theirs) == 2
    assert all(str(m["Subject"]).startswith(f"[TEST] {police.name}: ") for m in theirs)
    assert wrong.status_code == 400
    assert "not-an-address is not an email address" in wrong.text
    with Session(site) as session:
        assert session.exec(select(Delivery)).first() is None
        proofs = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.action) == "bulletin.proof")
        ).all()
        assert len(proofs) == 2


def test_a_sending_bulletin_is_stopped_from_its_page_and_stays_stopped(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    with Session(site) as session:
        make_bulletin(session, month=MONTH, status="sending")
        session.commit()
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert "Stop after this batch" in ann.get(PAGE).text

    stopped = post(ann, f"{PAGE}/stop")
    again = post(ann, f"{PAGE}/stop")

    assert stopped.status_code == 303
    assert again.status_code == 400
    assert "only a send can be stopped" in again.text
    with Session(site) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
        assert bulletin.status == "stopped"
        entry = session.exec(
            select(ActivityEntry).where(col(ActivityEntry.action) == "bulletin.stop")
        ).one()
        assert entry.actor == "ann@example.org"


def test_staff_looking_at_a_preview_are_never_counted_as_opens_or_clicks(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    from newsletter.models import Event

    ann = signed_in(settings, site, clock, "ann@example.org")
    post(ann, f"{PAGE}/build")

    preview = ann.get(f"{PAGE}/variants/health").text
    pixel = re.search(r'src="https?://[^"/]+(/o/[^"]+)"', preview)
    links = re.findall(r'href="https?://[^"/]+(/c/[^"]+)"', preview)
    assert pixel is not None
    assert links
    person = {"User-Agent": BROWSER}  # a person's browser, not a link scanner
    opened = ann.get(pixel.group(1), headers=person)
    clicked = [
        ann.get(path.replace("&amp;", "&"), headers=person, follow_redirects=False).status_code
        for path in links  # the honeypot link too: a machine following it is not counted either
    ]

    assert opened.status_code == 200
    assert 302 in clicked  # the links work, as in a proof
    with Session(site) as session:
        assert session.exec(select(Event)).all() == []
