"""Scheduling and sending from the bulletin page, over HTTP: change the send time (a plan
revision; the approval stands), pause and resume, "send now" recorded once as a request that
the scheduler's tick carries out, refusals in words, the progress figures as JSON, and the
activity log. (The journey in a browser is in test_sending_browser.py.)"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.dispatch import send_bulletin
from newsletter.models import ActivityEntry, Bulletin, BulletinStatus, SendRequest
from newsletter.plan import current_revision, load_checked_plan
from newsletter.schedule import Lifecycle, default_deps
from newsletter.sendability import start_refusal
from newsletter.transports import Batch, RecipientResult
from newsletter.transports.memory import MemoryTransport
from tests.factories import make_subscriber, make_user
from tests.web.staff.support import csrf, sign_in_fully, staff_client

MONTH = "2026-12"
PAGE = f"/admin/bulletins/{MONTH}"


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: FakeClock) -> Engine:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        make_user(session, email="ann@example.org", roles=["editor"])
        make_user(session, email="bob@example.org", roles=["editor"])
        make_user(session, email="carol@example.org", roles=["approver"])
        for n in range(6):
            make_subscriber(session, email=f"police{n}@example.org", agency="police")
        for n in range(3):
            make_subscriber(session, email=f"health{n}@example.org", agency="health")
        session.commit()
    return engine


def signed_in(settings: Settings, engine: Engine, clock: FakeClock, email: str) -> TestClient:
    client = staff_client(settings, engine, clock).__enter__()
    sign_in_fully(client, clock, email)
    return client


def post(client: TestClient, path: str, form: dict[str, str] | None = None) -> Response:
    response: Response = client.post(path, data={**(form or {}), "csrf": csrf(client, PAGE)})
    return response


def approved(settings: Settings, site: Engine, clock: FakeClock) -> tuple[TestClient, TestClient]:
    ann = signed_in(settings, site, clock, "ann@example.org")
    carol = signed_in(settings, site, clock, "carol@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303
    assert post(ann, f"{PAGE}/ask").status_code == 303
    assert post(carol, f"{PAGE}/approve").status_code == 303
    return ann, carol


def bulletin(site: Engine) -> Bulletin:
    with Session(site) as session:
        return session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()


def actions(site: Engine) -> list[tuple[str, str]]:
    with Session(site) as session:
        return [
            (e.actor, e.action)
            for e in session.exec(select(ActivityEntry).order_by(col(ActivityEntry.id)))
        ]


def requests(site: Engine) -> list[SendRequest]:
    with Session(site) as session:
        return list(session.exec(select(SendRequest).order_by(col(SendRequest.id))))


def test_send_now_shows_the_recipients_per_agency_then_records_one_request_however_often_asked(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann, carol = approved(settings, site, clock)

    confirm = ann.get(f"{PAGE}/send")
    first = post(ann, f"{PAGE}/send")
    again = post(ann, f"{PAGE}/send")
    other = post(carol, f"{PAGE}/send")

    assert confirm.status_code == 200
    assert 'id="recipients"' in confirm.text
    assert "Police" in confirm.text
    assert ">6<" in confirm.text  # police
    assert ">3<" in confirm.text  # health
    assert ">9<" in confirm.text  # the total
    assert "sends it early" in confirm.text  # its slot is in December; now is July
    assert "No scheduler is running" in confirm.text
    assert first.status_code == 303
    assert first.headers["location"] == f"{PAGE}/progress"
    assert again.status_code == other.status_code == 303
    made = requests(site)
    assert len(made) == 1
    assert made[0].requested_by == "ann@example.org"
    assert made[0].state == "pending"
    assert actions(site).count(("ann@example.org", "bulletin.send_now")) == 1
    progress = carol.get(f"{PAGE}/progress")
    assert "ann@example.org asked for this bulletin to be sent now" in progress.text
    assert "already asked for this" in progress.text  # carol's flash
    assert "No scheduler is running" in progress.text


def test_the_schedulers_next_tick_sends_what_was_asked_for_and_the_json_says_so(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann, _carol = approved(settings, site, clock)
    assert post(ann, f"{PAGE}/send").status_code == 303

    Lifecycle(site, settings, clock=clock, deps=default_deps()).tick()
    figures = ann.get(f"{PAGE}/progress.json").json()

    assert bulletin(site).status == BulletinStatus.sent
    assert figures["status"] == "sent"
    assert figures["percent"] == 100
    assert figures["totals"] == {"sent": 9, "failed": 0, "unknown": 0, "skipped": 0, "to_send": 0}
    police = next(a for a in figures["agencies"] if a["agency"] == "police")
    assert (police["name"], police["sent"], police["to_send"]) == ("Police", 6, 0)
    assert figures["where"].startswith("Last sent by the scheduler: process ")
    assert figures["request"] is None  # done: no longer open
    assert figures["finished"] is True
    assert requests(site)[0].outcome == "sent"
    page = ann.get(f"{PAGE}/progress")
    assert 'id="outcomes"' in page.text
    # the reports' figures: delivered is sent less bounced, before any provider event arrives
    assert 'Delivered</dt><dd class="summary-list__value">9</dd>' in page.text
    assert f'href="/admin/reports/bulletin/{MONTH}"' in page.text
    assert '<script src="/static/progress.js" defer></script>' in page.text
    assert f'href="{PAGE}/progress" id="refresh"' in page.text  # works without the script
    assert 'aria-live="polite"' in page.text


def test_progress_figures_count_what_is_left_and_the_rate_while_a_send_runs(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann, _carol = approved(settings, site, clock)

    class StopAfterFirstBatch(MemoryTransport):
        def send(self, batch: Batch) -> list[RecipientResult]:
            with Session(site) as session:
                row = session.exec(select(Bulletin).where(col(Bulletin.month) == MONTH)).one()
                row.status = BulletinStatus.stopped
                session.add(row)
                session.commit()
            return super().send(batch)

    settings.batch_size = 2
    send_bulletin(
        site, settings, MONTH, transport=StopAfterFirstBatch(), clock=clock, started_by="a test"
    )
    figures = ann.get(f"{PAGE}/progress.json").json()

    assert figures["status"] == "stopped"
    assert figures["totals"]["sent"] == 2
    assert figures["totals"]["to_send"] == 7
    assert figures["percent"] == 22
    assert figures["per_minute"] == 2  # sent in the last minute
    assert figures["time_left"].startswith("about 4 minutes")  # 7 left at 2 a minute
    assert figures["finished"] is True
    page = ann.get(f"{PAGE}/progress")
    assert 'id="resume-link"' in page.text
    resume = ann.get(f"{PAGE}/send/resume")
    assert "A person stopped this send." in resume.text
    assert ">7<" in resume.text  # still to send


def test_a_bulletin_that_may_not_be_sent_is_refused_in_plain_words_and_nothing_is_recorded(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    assert post(ann, f"{PAGE}/build").status_code == 303

    confirm = ann.get(f"{PAGE}/send")
    refused = post(ann, f"{PAGE}/send")

    assert "December 2026 may not be sent: it is not approved." in confirm.text
    assert "Send December 2026 now</button>" not in confirm.text
    assert refused.status_code == 400
    assert "December 2026 may not be sent: it is not approved" in refused.text
    assert "newsletter bulletin" not in refused.text
    assert requests(site) == []


def test_pausing_holds_the_bulletin_back_and_send_now_says_so_until_it_is_resumed(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann, carol = approved(settings, site, clock)

    confirm = carol.get(f"{PAGE}/schedule/pause")
    paused = post(carol, f"{PAGE}/schedule/pause")

    assert "The scheduler will not send it at" in confirm.text
    assert paused.status_code == 303
    assert bulletin(site).schedule_paused
    assert "it is paused" in ann.get(f"{PAGE}/send").text
    assert "Resume December 2026" in ann.get(PAGE).text
    resume_page = ann.get(f"{PAGE}/schedule/resume")
    assert "The scheduler sends it at" in resume_page.text
    assert post(ann, f"{PAGE}/schedule/resume").status_code == 303
    assert not bulletin(site).schedule_paused
    assert ("carol@example.org", "bulletin.pause") in actions(site)
    assert ("ann@example.org", "bulletin.resume_schedule") in actions(site)


def test_moving_the_send_time_saves_a_plan_revision_and_keeps_the_approval(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann, _carol = approved(settings, site, clock)
    with Session(site) as session:
        before = current_revision(session)
    assert before is not None

    form = ann.get(f"{PAGE}/schedule")
    check = post(
        ann,
        f"{PAGE}/schedule",
        {"send_date": "2026-12-15", "send_time": "07:30", "base": str(before.number)},
    )
    moved = post(
        ann,
        f"{PAGE}/schedule",
        {
            "send_date": "2026-12-15",
            "send_time": "07:30",
            "base": str(before.number),
            "confirm": "yes",
        },
    )

    assert form.status_code == 200
    assert 'type="date"' in form.text
    assert check.status_code == 200
    assert "Move December 2026 to Tuesday 15 December 2026, 7:30am" in check.text
    assert "Stays: carol@example.org approved the content" in check.text
    assert moved.status_code == 303, moved.text
    row = bulletin(site)
    assert row.send_at == datetime(2026, 12, 15, 7, 30, tzinfo=UTC)
    assert row.status == BulletinStatus.approved
    assert start_refusal(row, load_checked_plan(settings)) is None
    with Session(site) as session:
        after = current_revision(session)
    assert after is not None
    assert after.number == before.number + 1
    assert "send time moved" in after.message
    assert ("ann@example.org", "bulletin.move_send") in actions(site)
    assert "approved" in ann.get(PAGE).text


@pytest.mark.parametrize(
    ("date", "time", "words"),
    [
        ("2027-01-05", "09:00", "Choose a date in December 2026"),
        ("2026-12-15", "nine", "Enter the send time as hours and minutes"),
        ("", "09:00", "Enter the send date as a date"),
    ],
)
def test_a_send_time_that_cannot_be_used_is_refused_beside_its_field(
    settings: Settings, site: Engine, clock: FakeClock, date: str, time: str, words: str
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    response = post(
        ann, f"{PAGE}/schedule", {"send_date": date, "send_time": time, "confirm": "yes"}
    )

    assert response.status_code == 400
    assert words in response.text
    assert 'class="error-summary"' in response.text


def test_a_time_already_past_is_refused_and_send_now_is_offered_instead(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 12, 20, 12, 0, tzinfo=UTC))
    ann = signed_in(settings, site, clock, "ann@example.org")

    response = post(ann, f"{PAGE}/schedule", {"send_date": "2026-12-15", "send_time": "09:00"})

    assert response.status_code == 400
    assert "Choose a time in the future. To send it straight away, use Send now" in response.text


def test_only_editors_move_the_send_time_and_only_editors_or_approvers_send(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    with Session(site) as session:
        make_user(session, email="nobody@example.org", roles=[])
        session.commit()
    _ann, carol = approved(settings, site, clock)
    nobody = signed_in(settings, site, clock, "nobody@example.org")

    assert carol.get(f"{PAGE}/schedule").status_code == 403
    assert nobody.get(f"{PAGE}/send").status_code == 403
    assert nobody.get(f"{PAGE}/progress").status_code == 200  # watching needs no role
    assert carol.get(f"{PAGE}/send").status_code == 200
