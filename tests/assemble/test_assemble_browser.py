"""The assembled bulletin as a person sees it, in Debian's headless Chromium (Playwright)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from newsletter.agencies import read_agencies, sync_agencies
from newsletter.assemble import build_bulletin
from newsletter.clock import FakeClock
from newsletter.config import Settings
from newsletter.models import LinkKind
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.tokens import delivery_token
from tests.conftest import REPO
from tests.plan_factories import make_plan

pytestmark = pytest.mark.browser


@pytest.fixture
def message(session: Session, settings: Settings, clock: FakeClock) -> tuple[str, str]:
    """The health variant as one recipient gets it, and the honeypot's href in it."""
    sync_agencies(session, read_agencies(REPO / "subscribers" / "agencies.yaml"))
    result = build_bulletin(session, settings, make_plan(), "2026-07", clock=clock)
    health = next(v for v in result.variants if v.agency == "health")
    token = delivery_token(settings.secret, 7)
    values = {TOKEN: token, SUBSCRIBER: "sub-token", NAME: "Sam"}
    (honeypot,) = [link for link in result.links if link.kind == LinkKind.honeypot]
    assert honeypot.id is not None
    return personalise(health.html, html_values(values)), f"/c/{token}/{honeypot.id}"


@pytest.fixture
def page(chromium: Any) -> Any:
    context = chromium.new_context(viewport={"width": 700, "height": 900})
    context.route("**/*", lambda route: route.abort())  # an email client offline
    return context.new_page()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_honeypot_and_preheader_are_invisible_and_never_reached_by_the_keyboard(
    message: tuple[str, str], page: object
) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    html, honeypot = message
    page.set_content(html)

    assert not page.locator(f'a[href$="{honeypot}"]').is_visible()
    assert not page.locator(".preheader").is_visible()
    assert page.get_by_text("Hello Sam,").is_visible()
    visible = page.eval_on_selector_all(
        "a", "els => els.filter(e => e.offsetParent !== null).map(e => e.getAttribute('href'))"
    )
    reached = set()
    for _ in range(page.locator("a").count() + 2):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.getAttribute('href')"))
    assert set(visible) <= reached  # every visible link is reachable by keyboard...
    assert not any(href and href.endswith(honeypot) for href in reached)  # ...the honeypot not
    assert not any(href.endswith(honeypot) for href in visible)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_layout_fits_a_phone_and_darkens_in_dark_mode(
    message: tuple[str, str], page: object
) -> None:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    html, _ = message
    page.set_viewport_size({"width": 360, "height": 800})
    page.set_content(html)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    page.emulate_media(color_scheme="dark")
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.container')).backgroundColor"
    )
    assert background == "rgb(18, 18, 18)"
