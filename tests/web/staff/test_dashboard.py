"""The staff home page over HTTP: the next send and what it still needs, each alert made by the
state it reports (a missed bulletin, a paused one, a failed batch, a stopped send, webhook
silence on a fake clock, no scheduler), each person's steps first, and the last bulletin's
figures. (The page in a browser, with the axe check, is test_dashboard_browser.py.)"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import ask_for_approval
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import (
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    EventSource,
    EventType,
    LinkKind,
    ScheduleAction,
)
from newsletter.plan import current_plan
from newsletter.plan.digest import month_digest
from newsletter.schedule import leadership_for
from newsletter.schedule.control import beat
from tests.conftest import make_settings
from tests.factories import (
    make_bulletin,
    make_delivery,
    make_event,
    make_link,
    make_subscriber,
    make_user,
    make_variant,
)
from tests.web.staff.support import SECRET, sign_in_fully, staff_client

NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # the clock fixture's time
JULY_SLOT = datetime(2026, 7, 7, 8, 0, tzinfo=UTC)  # 1st Tuesday, 9am UK time
JUNE_SLOT = datetime(2026, 6, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def site(settings: Settings, engine: Engine) -> Engine:
    with Session(engine) as session:
        sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
        make_user(session, email="ann@example.org", roles=["editor"])
        make_user(session, email="carol@example.org", roles=["approver"])
        make_user(session, email="ops@example.org", roles=["admin"], totp_secret=SECRET)
        session.commit()
    return engine


def dashboard(settings: Settings, engine: Engine, clock: FakeClock, email: str) -> str:
    with staff_client(settings, engine, clock) as client:
        if email.startswith("ops"):  # a second factor: each code works once
            clock.advance(timedelta(seconds=30))
            sign_in_fully(client, clock, email, secret=SECRET)
        else:
            sign_in_fully(client, clock, email)
        page = client.get("/admin/")
    assert page.status_code == 200, page.text
    return html.unescape(page.text)


def section(page: str, anchor: str) -> str:
    """The text of the page from ``<h2 id="anchor">`` to the next ``<h2``."""
    start = page.index(f'<h2 id="{anchor}">')
    end = page.find("<h2", start + 1)
    return page[start : end if end != -1 else len(page)]


def add_bulletin(engine: Engine, **values: object) -> int:
    with Session(engine) as session:
        bulletin = make_bulletin(session, **values)
        session.commit()
        assert bulletin.id is not None
        return bulletin.id


def test_the_next_send_is_julys_and_says_it_still_needs_a_draft_and_links_to_its_page(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    page = dashboard(settings, site, clock, "ann@example.org")

    next_send = section(page, "next-send")
    assert "July 2026: Non-Accidental Injuries" in next_send
    assert "Tuesday 7 July 2026, 9am" in next_send
    assert 'href="/admin/bulletins/2026-07"' in next_send
    assert "Theme planned" in next_send
    assert "Draft built</dt>" in next_send
    assert "not yet" in next_send
    assert "Build the draft from the plan" in next_send
    assert 'href="/admin/bulletins"' in page  # the list of every bulletin stays a click away


def test_an_approved_next_send_that_is_paused_says_so_and_alerts_the_editors(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    add_bulletin(
        site,
        month="2026-07",
        theme="Non-Accidental Injuries",
        status=BulletinStatus.scheduled,
        checks_passed=True,
        approved_at=NOW,
        approved_by="carol@example.org",
        schedule_paused=True,
        send_at=JULY_SLOT,
    )

    page = dashboard(settings, site, clock, "ann@example.org")

    alerts = section(page, "alerts")
    assert "July 2026 is paused" in alerts
    assert "It will not go out at Tue 7 Jul 2026 09:00 BST unless someone resumes it." in alerts
    assert 'href="/admin/bulletins/2026-07">Resume or reschedule' in alerts
    next_send = section(page, "next-send")
    assert "Not paused" in next_send
    assert "paused: resume it to send" in next_send


def test_a_missed_bulletin_is_alerted_with_the_schedulers_reason_and_a_link_to_act(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    bulletin_id = add_bulletin(
        site, month="2026-06", status=BulletinStatus.missed, send_at=JUNE_SLOT + timedelta(days=0)
    )
    with Session(site) as session:
        session.add(
            ScheduleAction(
                bulletin_id=bulletin_id,
                action="missed",
                detail="it was not approved by its send time",
            )
        )
        session.commit()

    page = dashboard(settings, site, clock, "carol@example.org")

    alerts = section(page, "alerts")
    assert "June 2026 was not sent" in alerts
    assert "it was not approved by its send time" in alerts
    assert 'href="/admin/bulletins/2026-06">Decide about the June 2026 bulletin' in alerts


def test_a_planned_month_whose_send_time_passed_with_no_draft_is_alerted_as_not_sent(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    clock.set(JULY_SLOT + timedelta(days=1))

    page = dashboard(settings, site, clock, "ann@example.org")

    alerts = section(page, "alerts")
    assert "July 2026 was not sent" in alerts
    assert "no draft had been built" in alerts
    assert 'href="/admin/bulletins/2026-07">Open the July 2026 bulletin' in alerts
    assert "August 2026" in section(page, "next-send")


def test_a_missed_extra_edition_is_named_as_the_edition_not_as_its_month(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    add_bulletin(site, month="2026-06-correction", status=BulletinStatus.missed, send_at=JUNE_SLOT)

    page = dashboard(settings, site, clock, "ann@example.org")

    alerts = section(page, "alerts")
    assert "June 2026 (correction) was not sent" in alerts
    assert 'href="/admin/bulletins/2026-06-correction">' in alerts


def test_a_missed_bulletin_long_ago_is_history_not_an_alert(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    add_bulletin(site, month="2025-01", status=BulletinStatus.missed, send_at=NOW.replace(2025, 1))

    page = dashboard(settings, site, clock, "carol@example.org")

    assert "January 2025" not in section(page, "alerts")


def _sent_with_trouble(engine: Engine, status: BulletinStatus) -> None:
    with Session(engine) as session:
        bulletin = make_bulletin(
            session, month="2026-06", status=status, send_started_at=JUNE_SLOT, send_at=JUNE_SLOT
        )
        variant = make_variant(session, bulletin, agency="health")
        outcomes = (
            [DeliveryStatus.sent] * 3 + [DeliveryStatus.failed] + [DeliveryStatus.unknown] * 2
        )
        for outcome in outcomes:
            make_delivery(session, bulletin, make_subscriber(session), variant, status=outcome)
        session.commit()


def test_a_send_that_finished_with_failed_and_unknown_deliveries_is_alerted_with_counts(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _sent_with_trouble(site, BulletinStatus.sent)

    page = dashboard(settings, site, clock, "ann@example.org")

    alerts = section(page, "alerts")
    assert "The June 2026 send finished with failures" in alerts
    assert "1 message failed and 2 with an unknown outcome" in alerts
    assert 'href="/admin/bulletins/2026-06/progress">See the June 2026 send' in alerts


def test_a_send_that_ended_failed_is_alerted(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _sent_with_trouble(site, BulletinStatus.failed)

    page = dashboard(settings, site, clock, "ann@example.org")

    assert "The June 2026 send stopped part-way with failures" in section(page, "alerts")


def test_a_send_a_person_stopped_is_alerted_until_a_person_acts(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _sent_with_trouble(site, BulletinStatus.stopped)

    page = dashboard(settings, site, clock, "ann@example.org")

    alerts = section(page, "alerts")
    assert "The June 2026 send was stopped" in alerts
    assert "nothing resumes it but a person" in alerts
    assert 'href="/admin/bulletins/2026-06/progress">Resume or leave the June 2026 send' in alerts


@pytest.fixture
def sendgrid_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        database_url=database_url,
        transport="sendgrid",
        sendgrid_api_key="SG.test",
    )


def test_webhook_silence_for_24_hours_after_a_send_is_alerted_and_a_post_clears_it(
    sendgrid_settings: Settings, engine: Engine, clock: FakeClock
) -> None:
    settings = sendgrid_settings
    with Session(engine) as session:
        make_user(session, email="ops@example.org", roles=["admin"], totp_secret=SECRET)
        bulletin = make_bulletin(
            session, month="2026-06", status=BulletinStatus.sent, send_started_at=NOW
        )
        variant = make_variant(session, bulletin, agency="health")
        delivery = make_delivery(session, bulletin, make_subscriber(session), variant)
        make_event(
            session,
            delivery,
            type=EventType.delivered,
            source=EventSource.sendgrid,
            occurred_at=NOW + timedelta(minutes=5),
            recorded_at=NOW + timedelta(minutes=6),
        )
        session.commit()
        delivery_id = delivery.id

    with staff_client(settings, engine, clock) as client:
        clock.set(NOW + timedelta(hours=24, minutes=5))
        sign_in_fully(client, clock, "ops@example.org", secret=SECRET)
        quiet_day = html.unescape(client.get("/admin/").text)
        clock.set(NOW + timedelta(hours=24, minutes=7))
        silent = html.unescape(client.get("/admin/").text)
        with Session(engine) as session:
            heard = session.get(Delivery, delivery_id)
            assert heard is not None
            make_event(
                session,
                heard,
                type=EventType.open,
                source=EventSource.sendgrid,
                occurred_at=clock.now(),
                recorded_at=clock.now(),
            )
            session.commit()
        heard_again = html.unescape(client.get("/admin/").text)

    assert "webhook" not in section(quiet_day, "alerts")
    alerts = section(silent, "alerts")
    assert "SendGrid's webhook has not been heard from in 24 hours" in alerts
    assert "It was last heard from at Wed 1 Jul 2026 09:06 BST" in alerts
    assert "webhook" not in section(heard_again, "alerts")


def test_webhook_silence_is_not_alerted_without_sendgrid_or_without_a_recent_send(
    settings: Settings, sendgrid_settings: Settings, site: Engine, clock: FakeClock
) -> None:
    add_bulletin(
        site, month="2026-05", status=BulletinStatus.sent, send_started_at=NOW.replace(month=5)
    )
    clock.set(NOW + timedelta(days=2))

    outbox = dashboard(settings, site, clock, "ops@example.org")
    sendgrid_but_old = dashboard(sendgrid_settings, site, clock, "ops@example.org")

    assert "webhook" not in section(outbox, "alerts")
    assert "webhook" not in section(sendgrid_but_old, "alerts")


def test_no_scheduler_is_alerted_while_a_step_is_ahead_and_not_while_one_leads(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    without = dashboard(settings, site, clock, "ops@example.org")
    leadership = leadership_for(settings)
    assert leadership.try_acquire()
    try:
        with Session(site) as session:
            beat(session, name="test", now=clock.now(), tick_seconds=60, leading_since=NOW)
            session.commit()
        led = dashboard(settings, site, clock, "ops@example.org")
        clock.advance(timedelta(minutes=10))  # the leader stopped ticking
        stuck = dashboard(settings, site, clock, "ops@example.org")
    finally:
        leadership.release()

    alerts = section(without, "alerts")
    assert "No scheduler is running" in alerts
    assert "July 2026, build the draft and ask for approval" in alerts
    assert "scheduler" not in section(led, "alerts")
    assert 'id="no-alerts"' in led
    assert "The scheduler has stopped checking in" in section(stuck, "alerts")


def _asked_and_failing(engine: Engine, settings: Settings, clock: FakeClock) -> None:
    """July built and asked for approval; August built with failing checks (both from the
    current plan)."""
    with Session(engine) as session:
        plan = current_plan(session, settings)
        session.commit()
        built = {
            month: {"plan_hash": plan.digest, "month_hash": month_digest(plan, month)}
            for month in ("2026-07", "2026-08")
        }
        make_bulletin(
            session,
            month="2026-07",
            theme="Non-Accidental Injuries",
            status=BulletinStatus.draft,
            checks_passed=True,
            send_at=JULY_SLOT,
            **built["2026-07"],
        )
        make_bulletin(
            session,
            month="2026-08",
            theme="August theme",
            status=BulletinStatus.draft,
            checks_passed=False,
            send_at=JULY_SLOT + timedelta(days=28),
            **built["2026-08"],
        )
        ask_for_approval(session, "2026-07", by="ann@example.org", clock=clock)
        session.commit()


def test_an_approver_sees_what_awaits_their_approval_first(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _asked_and_failing(site, settings, clock)

    page = dashboard(settings, site, clock, "carol@example.org")

    mine = section(page, "for-you")
    assert "Waiting for you" in mine
    assert 'href="/admin/bulletins/2026-07">July 2026' in mine
    assert "Approve it, or reject it with a comment" in mine
    assert "2026-08" not in mine  # the editors' fix, not the approver's
    assert page.index('id="for-you"') < page.index('id="alerts"')


def test_an_editor_sees_what_needs_editing(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _asked_and_failing(site, settings, clock)

    page = dashboard(settings, site, clock, "ann@example.org")

    mine = section(page, "for-you")
    assert 'href="/admin/bulletins/2026-08">August 2026' in mine
    assert "Fix the failing checks below, then rebuild the draft." in mine
    assert "2026-07" not in mine  # waiting for an approver, not for her


def test_someone_without_a_role_sees_no_steps_of_their_own(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    _asked_and_failing(site, settings, clock)

    page = dashboard(settings, site, clock, "ops@example.org")

    assert 'id="for-you"' not in page


def test_the_last_bulletins_headline_figures_come_from_its_report_with_a_link(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    with Session(site) as session:
        bulletin = make_bulletin(
            session,
            month="2026-06",
            theme="Exploitation",
            status=BulletinStatus.sent,
            send_started_at=JUNE_SLOT,
        )
        make_bulletin(
            session,
            month="2026-05",
            status=BulletinStatus.sent,
            send_started_at=JUNE_SLOT - timedelta(days=30),
        )
        variant = make_variant(session, bulletin, agency="health")
        course = make_link(session, bulletin, kind=LinkKind.course)
        deliveries = [
            make_delivery(session, bulletin, make_subscriber(session), variant) for _ in range(5)
        ]
        make_event(session, deliveries[0], type=EventType.open)
        make_event(session, deliveries[1], type=EventType.open)
        make_event(session, deliveries[0], type=EventType.click, link_id=course.id)
        make_event(session, deliveries[2], type=EventType.bounce)
        make_event(session, deliveries[3], type=EventType.complaint)
        session.commit()

    page = dashboard(settings, site, clock, "ann@example.org")

    last = section(page, "last-bulletin")
    assert "Last bulletin: June 2026" in last
    figures = {
        label: value
        for label, value in (
            ("Recipients", 5),
            ("Delivered", 4),
            ("Unique opens", 2),
            ("Unique clicks", 1),
            ("Training-course clicks", 1),
            ("Bounces", 1),
            ("Complaints", 1),
        )
    }
    for label, value in figures.items():
        assert (
            f'{label}</dt><dd class="summary-list__value"><span class="report-figure">{value}<'
            in last
        ), label
    assert 'href="/admin/reports/bulletin/2026-06"' in last


def test_the_page_reads_a_fixed_number_of_rows_whatever_the_history(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    """Years of sent bulletins add no query per bulletin (no N+1)."""
    from sqlalchemy import event

    def count_queries(first: int, months: int) -> int:
        with Session(site) as session:
            for n in range(first, first + months):
                year, month = divmod(2016 * 12 + n, 12)
                make_bulletin(
                    session,
                    month=f"{year:04d}-{month + 1:02d}",
                    status=BulletinStatus.sent,
                    send_started_at=datetime(year, month + 1, 5, tzinfo=UTC),
                    send_at=datetime(year, month + 1, 5, tzinfo=UTC),
                )
            session.commit()
        statements: list[str] = []

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        with staff_client(settings, site, clock) as client:
            sign_in_fully(client, clock, "ann@example.org")
            event.listen(site, "before_cursor_execute", seen)
            try:
                assert client.get("/admin/").status_code == 200
            finally:
                event.remove(site, "before_cursor_execute", seen)
        return len(statements)

    few = count_queries(0, 3)
    many = count_queries(3, 60)

    assert many <= few + 2, (few, many)
