"""bench/web: server time of the plan pages with five years of plan (60 months, 500 catalogue
items): the calendar, the month editor and an agency's preview of the edited month, and the
staff dashboard over five years of sent bulletins (the last one with its ledger and events), as
p50 and p95 per request and as ratios to ``/healthz`` measured the same way in the same run.

Requests go through the real app in process (Starlette's test client, an editor signed in with
a real session), so the times are the server's own: routing, session and role checks, the
database, reading and checking the current revision, rendering. A preview must stay under 1 s.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session, col, select

from newsletter import accounts
from newsletter.agencies import read_agencies, sync_agencies
from newsletter.config import Settings
from newsletter.db import make_engine, migrate
from newsletter.eventlog import insert_events, note_changed
from newsletter.models import (
    Bulletin,
    BulletinStatus,
    Delivery,
    DeliveryStatus,
    Role,
    Variant,
)
from newsletter.passwords import hash_password
from newsletter.plan.store import import_directory
from newsletter.web.app import create_app

REPO = Path(__file__).resolve().parent.parent
MONTHS = 60
ITEMS = 500
KINDS = ("course", "briefing", "review", "resource")
PASSWORD = "bench horse battery staple"  # noqa: S105 -- a throwaway account in a temp database


def _month(index: int) -> str:
    year, month = divmod(2026 * 12 + 6 + index, 12)
    return f"{year:04d}-{month + 1:02d}"


def write_plan(root: Path) -> Path:
    """A plan of MONTHS months, each with three sections of items from ITEMS catalogue items."""
    plan_dir = root / "campaigns"
    (plan_dir / "catalogue").mkdir(parents=True)
    (plan_dir / "themes").mkdir()
    (plan_dir / "plan.yaml").write_text(
        'send_slot:\n  day: 1st tue\n  time: "09:00"\n  timezone: Europe/London\n'
        "draft_lead_days: 10\n",
        encoding="utf-8",
    )
    lines = ["items:"]
    for n in range(ITEMS):
        kind = KINDS[n % len(KINDS)]
        lines += [
            f"  - id: {kind}-{n:03d}",
            f"    kind: {kind}",
            f"    title: {kind.title()} number {n} on safeguarding practice",
            f"    summary: What practitioners learn from item {n}, in a sentence or two.",
            f"    url: https://learning.example.org/{kind}/{n}",
            f"    link_text: Open {kind} {n} on the learning site",
        ]
        if kind == "course":
            lines += ["    format: eLearning", "    booking_closes: 2032-12-31"]
    (plan_dir / "catalogue" / "items.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for index in range(MONTHS):
        month = _month(index)
        sections = []
        for s, kind in enumerate(KINDS[:3]):
            # Item n is of kind KINDS[n % 4]: pick three of this kind, different each month.
            refs = [f"{kind}-{4 * ((index * 3 + k) % (ITEMS // 4)) + s:03d}" for k in range(3)]
            items = "\n".join(f"      - ref: {ref}" for ref in refs)
            sections.append(f"  - title: Section {s + 1}\n    items:\n{items}")
        (plan_dir / "themes" / f"{month}.yaml").write_text(
            f"month: {month}\ntitle: Theme of {month}\nsubject: The learning bulletin for {month}\n"
            f"preheader: Courses, briefings and reviews for {month}\naudience: [children]\n"
            f"intro: During {month} the focus is on **practice**.\nsections:\n"
            + "\n".join(sections)
            + "\n",
            encoding="utf-8",
        )
    return plan_dir


HISTORY = 60  # sent bulletins before the plan's first month
RECIPIENTS = 2000  # of the last of them


def write_history(session: Session) -> None:
    """HISTORY sent bulletins, one a month before the plan starts; the last with RECIPIENTS
    deliveries (a few failed or unknown) and opens and clicks."""
    bulletins = []
    for n in range(HISTORY):
        month = _month(n - HISTORY)
        start = datetime.fromisoformat(f"{month}-05T09:00:00+00:00")
        bulletin = Bulletin(
            month=month,
            theme=f"Theme of {month}",
            subject=f"The learning bulletin for {month}",
            status=BulletinStatus.sent,
            send_at=start,
            send_started_at=start,
            sent_at=start,
        )
        session.add(bulletin)
        bulletins.append(bulletin)
    session.flush()
    last = bulletins[-1]
    assert last.id is not None
    variant = Variant(bulletin_id=last.id, agency="health", subject=last.subject, html="", text="")
    session.add(variant)
    session.flush()
    assert variant.id is not None
    outcomes = [DeliveryStatus.sent] * (RECIPIENTS - 5) + [DeliveryStatus.failed] * 2
    outcomes += [DeliveryStatus.unknown] * 3
    session.execute(
        insert(Delivery),
        [
            {
                "bulletin_id": last.id,
                "subscriber_id": None,
                "agency": "health",
                "variant_id": variant.id,
                "status": outcome,
                "batch": i // 100,
            }
            for i, outcome in enumerate(outcomes)
        ],
    )
    ids = session.exec(select(Delivery.id).where(col(Delivery.bulletin_id) == last.id)).all()
    at = last.send_started_at
    insert_events(
        session,
        [
            {
                "delivery_id": d,
                "bulletin_id": last.id,
                "agency": "health",
                "type": kind,
                "occurred_at": at,
                "recorded_at": at,
                "link_id": None,
                "source": "web",
                "machine": False,
                "machine_reason": None,
                "rules_version": None,
                "seconds_since_delivery": None,
                "method": None,
                "user_agent": None,
                "provider_event_id": None,
                "payload": None,
            }
            for i, d in enumerate(ids)
            for kind in (("open", "click") if i % 3 == 0 else ("open",) if i % 2 else ())
        ],
    )
    note_changed(session, [last.id])


def _times(run: Callable[[], object], count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        run()
        out.append(time.perf_counter() - start)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        migrate(url)
        plan_dir = write_plan(root)
        settings = Settings(
            _env_file=None,
            data_dir=root / "var",
            database_url=url,
            secret_key="bench-secret-key-0123456789abcdef",  # noqa: S106 -- temp data only
            plan_dir=plan_dir,
            templates_dir=REPO / "templates",
            subscribers_dir=REPO / "subscribers",
        )
        engine = make_engine(url)
        with Session(engine) as session:
            sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
            slugs = [a.slug for a in read_agencies(settings.subscribers_dir / "agencies.yaml")]
            import_directory(session, plan_dir, agencies=slugs, author="bench", message="bench")
            write_history(session)
            accounts.add_user(
                session,
                email="editor@example.org",
                roles=[Role.editor],
                actor="bench",
                password_hash=hash_password(PASSWORD),
            )
            session.commit()
        month = _month(30)
        app = create_app(settings, engine=engine)
        with TestClient(app, follow_redirects=False) as client:
            page = client.get("/admin/sign-in")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            signed = client.post(
                "/admin/sign-in",
                data={"email": "editor@example.org", "password": PASSWORD, "csrf": token.group(1)},
            )
            assert signed.status_code == 303, signed.text
            editor = client.get(f"/admin/plan/months/{month}")
            assert editor.status_code == 200, editor.text
            form = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', editor.text))
            form.update({"preview_agency": "health", "intro": "During the month, **practice**."})

            def get(path: str) -> Callable[[], object]:
                def run() -> None:
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.status_code)

                return run

            def preview() -> None:
                response = client.post(f"/admin/plan/months/{month}/preview", data=form)
                assert response.status_code == 200, response.text[:500]
                assert "Theme of" in response.text

            runs = {
                "/healthz": (get("/healthz"), 200),
                "calendar": (get("/admin/calendar"), 40),
                "editor": (get(f"/admin/plan/months/{month}"), 40),
                "preview": (preview, 15),
                "dashboard": (get("/admin/"), 40),
            }
            for run, _count in runs.values():
                run()  # warm: templates compiled, the revision checked once
            results = {name: _times(run, count) for name, (run, count) in runs.items()}
        engine.dispose()
    base50 = _p(results["/healthz"], 0.5)
    base95 = _p(results["/healthz"], 0.95)
    print(
        f"plan: {MONTHS} months, {ITEMS} catalogue items; {HISTORY} bulletins sent before it, "
        f"the last to {RECIPIENTS}; times per request (server, in process)"
    )
    print(f"{'page':<10} {'p50 ms':>9} {'p95 ms':>9} {'p50 / healthz':>14} {'p95 / healthz':>14}")
    for name, values in results.items():
        p50, p95 = _p(values, 0.5), _p(values, 0.95)
        print(
            f"{name:<10} {p50 * 1000:9.2f} {p95 * 1000:9.2f} {p50 / base50:14.1f} {p95 / base95:14.1f}"
        )
    worst = max(results["preview"])
    print(
        f"preview of a variant: slowest {worst * 1000:.0f} ms ({'under' if worst < 1 else 'OVER'} 1 s)"
    )
    print(f"mean healthz {statistics.mean(results['/healthz']) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
