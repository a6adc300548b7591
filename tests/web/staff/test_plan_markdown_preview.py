"""The month editor's live preview over HTTP: POST /admin/plan/markdown-preview answers a
Markdown text rendered as the bulletin renders it, sanitised, with plan check's words about
unsafe links; editors only, CSRF-protected, bounded, never a 500. (Typing in a browser is in
test_plan_browser.py.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.plan import MARKDOWN_MAX
from tests.factories import make_user
from tests.web.staff.support import csrf, sign_in_fully, staff_client

PREVIEW = "/admin/plan/markdown-preview"
DECEMBER = "/admin/plan/months/2026-12"


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


def preview(client: TestClient, text: str, *, page: str = DECEMBER) -> tuple[int, str]:
    """Post ``text`` as markdown-preview.js does: the token in X-CSRF-Token, the text as a form."""
    token = csrf(client, page)
    response = client.post(PREVIEW, data={"text": text}, headers={"X-CSRF-Token": token})
    return response.status_code, response.text


def test_an_editor_gets_the_markdown_rendered_as_the_bulletin_renders_it(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    status, html = preview(
        ann, "**bold** and *gentle*\n\n[Book the course](https://example.org/course)"
    )

    assert status == 200
    assert "<strong>bold</strong>" in html
    assert "<em>gentle</em>" in html
    assert '<a href="https://example.org/course">Book the course</a>' in html
    assert "Plan check will refuse" not in html


def test_script_and_javascript_links_never_come_back_live_and_plan_checks_words_say_why(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    status, html = preview(
        ann,
        "<script>alert(1)</script>\n\n[Open the form](javascript:alert(2)) "
        '<img src=x onerror="alert(3)"> ![a chart](data:image/png;base64,AAAA) '
        "[click here](https://example.org/)",
    )

    assert status == 200
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img src=x" not in lowered  # shown as text, never as a tag
    assert "&lt;script&gt;" in lowered
    assert 'href="javascript:' not in lowered
    assert 'src="data:' not in lowered
    assert "Plan check will refuse this text:" in html
    assert "a link in this text: &#39;javascript:alert(2)&#39; is a javascript: address" in html
    assert "an image in this text: &#39;data:image/png;base64,AAAA&#39; is a data: address" in html
    assert "a link in this text says &#39;click here&#39;, which does not say where it goes" in (
        html
    )


def test_empty_binary_and_over_long_texts_are_answered_without_a_server_error(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    token = csrf(ann, DECEMBER)

    empty = preview(ann, "")
    controls = preview(ann, "ok \x00\x07 not ok")
    binary = ann.post(
        PREVIEW,
        content=b"text=%FF%FE%00%C3%28" + bytes(range(256)).replace(b"&", b""),
        headers={"X-CSRF-Token": token, "Content-Type": "application/x-www-form-urlencoded"},
    )
    no_text = ann.post(PREVIEW, data={}, headers={"X-CSRF-Token": token})
    too_long = preview(ann, "a" * (MARKDOWN_MAX + 1))
    far_too_long = ann.post(
        PREVIEW, data={"text": "é" * (2 * MARKDOWN_MAX)}, headers={"X-CSRF-Token": token}
    )
    huge_body = ann.post(
        PREVIEW, data={"text": "%" * (13 * MARKDOWN_MAX)}, headers={"X-CSRF-Token": token}
    )

    assert empty == (200, "")
    assert controls[0] == 200
    assert "Plan check will refuse this text:" in controls[1]
    assert binary.status_code == 200
    assert no_text.status_code == 200
    assert no_text.text == ""
    assert too_long[0] == 422
    assert (
        f"is {MARKDOWN_MAX + 1:,} characters long; keep it under {MARKDOWN_MAX:,}" in (too_long[1])
    )
    assert "aaaa" not in too_long[1]
    assert far_too_long.status_code == 422
    assert huge_body.status_code == 413
    assert "too long to preview" in huge_body.text


def test_only_a_signed_in_editor_with_a_good_csrf_token_gets_a_preview(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")
    carol = signed_in(settings, site, clock, "carol@example.org")

    forged = ann.post(PREVIEW, data={"text": "**x**"}, headers={"X-CSRF-Token": "forged"})
    no_token = ann.post(PREVIEW, data={"text": "**x**"})
    approver = preview(carol, "**x**", page="/admin/calendar")
    with staff_client(settings, site, clock) as stranger:
        anonymous = stranger.post(
            PREVIEW, data={"text": "**x**"}, headers={"X-CSRF-Token": csrf(stranger)}
        )

    assert forged.status_code == 403
    assert no_token.status_code == 403
    assert approver[0] == 403
    assert anonymous.status_code in (303, 401, 403)
    assert "<strong>" not in forged.text + no_token.text + approver[1] + anonymous.text


def test_the_editor_loads_the_live_preview_script_and_keeps_the_round_trip_preview(
    settings: Settings, site: Engine, clock: FakeClock
) -> None:
    ann = signed_in(settings, site, clock, "ann@example.org")

    page = ann.get(DECEMBER).text
    script = ann.get("/static/markdown-preview.js")

    assert '<script src="/static/markdown-preview.js" defer></script>' in page
    assert 'data-markdown-preview-url="/admin/plan/markdown-preview"' in page
    assert 'data-live-preview="intro-live"' in page
    assert (
        '<div class="prose-preview" id="intro-live" role="region" aria-label="Preview" hidden>'
        in (page)
    )
    assert "As readers see it" in page
    assert script.status_code == 200
    assert "X-CSRF-Token" in script.text
