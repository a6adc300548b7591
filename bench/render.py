"""Render once, personalise cheaply: the project's path against rendering per recipient.

In one run: assemble the July 2026 bulletin from campaigns/ for every agency (Jinja2 + premailer
once per variant), then personalise it for 100,000 recipients (HTML and text: a signed token,
the subscriber's token and name per recipient). The baseline is the naive path, measured in the
same process on BENCH_RENDER_NAIVE recipients (default 500: at ~90 ms each, 1,000 would take
longer than this machine should spend) and scaled: Jinja2 render,
premailer and the text template for every recipient. Both paths make the same tracking token
per recipient. Environment: BENCH_RENDER_RECIPIENTS (default 100000), BENCH_RENDER_NAIVE.
"""

from __future__ import annotations

import html
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from newsletter import urls
from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.assemble.build import render_context
from newsletter.assemble.content import walk_theme
from newsletter.assemble.links import LinkRegistry, markers_in, resolve_markers
from newsletter.assemble.render import Renderer, inline_css
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.db import make_engine, migrate
from newsletter.models import Agency, Link
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.plan import load_checked_plan
from newsletter.tokens import delivery_token

REPO = Path(__file__).resolve().parent.parent
MONTH = "2026-07"


def _settings(tmp: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp / "var",
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        secret_key="bench-secret-key-0123456789abcdef",  # noqa: S106
        plan_dir=REPO / "campaigns",
        templates_dir=REPO / "templates",
        subscribers_dir=REPO / "subscribers",
    )


def _people(count: int) -> list[tuple[str, str]]:
    return [(secrets.token_urlsafe(24), f"Practitioner {n} O'Brien") for n in range(count)]


def main() -> None:
    recipients = int(os.environ.get("BENCH_RENDER_RECIPIENTS", "100000"))
    naive_n = int(os.environ.get("BENCH_RENDER_NAIVE", "500"))
    with tempfile.TemporaryDirectory() as tmpdir:
        settings = _settings(Path(tmpdir))
        migrate(settings.resolved_database_url)
        engine = make_engine(settings.resolved_database_url)
        plan = load_checked_plan(settings)
        clock = FakeClock(datetime(2026, 7, 1, 8, 0, tzinfo=UTC))
        key = settings.secret
        with Session(engine, expire_on_commit=False) as session:
            sync_agencies(session, read_agencies(settings.subscribers_dir / "agencies.yaml"))
            session.commit()
            started = time.perf_counter()
            result = build_bulletin(session, settings, plan, MONTH, clock=clock)
            session.commit()
            assemble_s = time.perf_counter() - started
            agencies = list(
                session.exec(select(Agency).order_by(col(Agency.position), col(Agency.slug)))
            )
            links = {
                link.position: link
                for link in session.exec(
                    select(Link).where(col(Link.bulletin_id) == result.bulletin.id)
                )
            }
        engine.dispose()
        variants = result.variants
        sizes = [v.html_bytes for v in variants]
        print(
            f"assembled {MONTH} for {len(variants)} agencies in {assemble_s:.2f} s "
            f"({min(sizes) / 1024:.1f}-{max(sizes) / 1024:.1f} KB of HTML per variant, "
            f"{len(links)} links)"
        )

        # The project's path: fill the placeholders of the variant, per recipient.
        people = _people(recipients)
        started = time.perf_counter()
        total_bytes = 0
        for n, (sub_token, name) in enumerate(people):
            variant = variants[n % len(variants)]
            values = {TOKEN: delivery_token(key, n + 1), SUBSCRIBER: sub_token, NAME: name}
            body = personalise(variant.html, html_values(values))
            text = personalise(variant.text, values)
            total_bytes += len(body) + len(text)
        fast_s = time.perf_counter() - started
        fast_each = fast_s / recipients
        print(
            f"render once + personalise: {recipients:,} recipients in {fast_s:.2f} s "
            f"= {fast_each * 1e6:.1f} us per recipient ({total_bytes / recipients / 1024:.1f} KB)"
        )

        # The naive path: the templates rendered and inlined for every recipient.
        theme = plan.theme(MONTH)
        registry = LinkRegistry()  # the same walk the build made; its links are the rows above
        content = walk_theme(settings, theme, registry, agencies=[a.slug for a in agencies])
        per_agency = {a.slug: content.for_agency(a.slug) for a in agencies}
        renderer = Renderer(settings)
        started = time.perf_counter()
        for n, (sub_token, name) in enumerate(people[:naive_n]):
            agency = agencies[n % len(agencies)]
            token = delivery_token(key, n + 1)
            context = render_context(
                settings,
                theme=theme,
                agency=agency,
                content=per_agency[agency.slug],
                greeting_name=name,
                subscriber_token=sub_token,
                token=token,
            )
            source = renderer.render_html_source(context)
            text = renderer.render_text(context)
            hrefs = {
                p: urls.click_url(settings, links[p].id or 0, token=token)
                for p in markers_in(source) | markers_in(text)
            }
            body = resolve_markers(
                inline_css(source), {p: html.escape(h) for p, h in hrefs.items()}
            )
            text = resolve_markers(text, hrefs)
        naive_s = time.perf_counter() - started
        naive_each = naive_s / naive_n
        print(
            f"naive (Jinja2 + premailer + text per recipient): measured on {naive_n:,} "
            f"in {naive_s:.2f} s = {naive_each * 1e3:.2f} ms per recipient; "
            f"scaled to {recipients:,}: {naive_each * recipients / 60:.1f} min"
        )
        print(
            f"ratio: the project's path is {naive_each / fast_each:,.0f}x cheaper per recipient "
            f"(target >= 100x)"
        )


if __name__ == "__main__":
    main()
