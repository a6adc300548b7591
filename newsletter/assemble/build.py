"""Build (or rebuild) a month's draft bulletin, and approve it.

:func:`build_bulletin` renders the month's theme once per agency, registers its links, runs the
checks and stores the result as a draft. :func:`approve_bulletin` is the only way from draft to
approved, and refuses while the checks fail or the plan has changed since the build.

Both change rows in ``session`` and flush; the caller commits (or rolls back).
"""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from newsletter import urls
from newsletter.accounts import approvers
from newsletter.assemble.checks import CheckResult, check_contrast, check_variant
from newsletter.assemble.content import Content, walk_theme
from newsletter.assemble.links import LinkRegistry, href_for, markers_in, resolve_markers
from newsletter.assemble.render import Renderer, month_label
from newsletter.assemble.review import four_eyes_reasons, record_approval
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.eventlog import delete_events, note_changed
from newsletter.lifecycle import transition
from newsletter.models import (
    Agency,
    Audience,
    Bulletin,
    BulletinStatus,
    Delivery,
    Event,
    Link,
    LinkKind,
    Variant,
)
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN, html_values, personalise
from newsletter.plan.digest import month_digest
from newsletter.plan.model import Plan, Theme
from newsletter.plan.slots import send_time
from newsletter.sendability import out_of_date
from newsletter.tokens import delivery_token

log = logging.getLogger(__name__)

KIND_LABELS = {
    "course": "Training course",
    "briefing": "7-minute briefing",
    "review": "Case review",
    "resource": "Resource",
}

# Statuses whose bulletin has (or may have) gone out: never rebuilt.
_SENT_STATUSES = {BulletinStatus.sending, BulletinStatus.sent, BulletinStatus.failed}


class BuildError(Exception):
    """The bulletin cannot be built (no theme, no agencies, already sending or sent)."""


class ApprovalRefused(Exception):
    """The bulletin may not be approved; ``reasons`` says why, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class BuildResult:
    bulletin: Bulletin
    variants: list[Variant]  # in agency order
    links: list[Link]  # in position order
    checks: list[CheckResult]

    @property
    def checks_passed(self) -> bool:
        return all(check.passed for check in self.checks)


def audience_label(audiences: tuple[Audience, ...] | list[Audience]) -> str:
    names = [a.value for a in Audience if a in audiences]
    return " and ".join(names)


def sample_values(settings: Settings) -> dict[str, str]:
    """Placeholder values as long as real ones get: what the size check measures."""
    return {
        TOKEN: delivery_token(settings.secret, 10**12),
        SUBSCRIBER: secrets.token_urlsafe(32),
        NAME: "x" * 60,
    }


def render_context(
    settings: Settings,
    *,
    theme: Theme,
    agency: Agency,
    content: Content,
    greeting_name: str = NAME,
    subscriber_token: str = SUBSCRIBER,
    token: str = TOKEN,
) -> dict[str, Any]:
    """Everything the templates see (documented in templates/README.md)."""
    return {
        "bulletin": {
            "month": theme.month,
            "month_label": month_label(theme.month),
            "theme": theme.title,
            "subject": theme.subject,
            "preheader": theme.preheader,
            "audience_label": audience_label(theme.audiences),
        },
        "agency": {"slug": agency.slug, "name": agency.name},
        "content": content,
        "kind_labels": KIND_LABELS,
        "greeting_name": greeting_name,
        "links": {
            "archive": urls.archive_url(settings, theme.month, agency.slug),
            "unsubscribe": urls.unsubscribe_url(settings, subscriber_token),
            "preferences": urls.preferences_url(settings, subscriber_token),
            "open_pixel": urls.open_url(settings, token) if settings.tracking != "off" else None,
        },
        "brand": {
            "partnership_name": settings.partnership_name,
            "brand_colour": settings.brand_colour,
            "accent_colour": settings.accent_colour,
            "text_colour": settings.text_colour,
            "background_colour": settings.background_colour,
            "logo_url": settings.logo_url,
            "postal_address": settings.postal_address,
        },
    }


def _agencies(session: Session) -> list[Agency]:
    rows = session.exec(select(Agency).order_by(col(Agency.position), col(Agency.slug))).all()
    return list(rows)


def _bulletin_for(session: Session, month: str) -> Bulletin | None:
    return session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()


def _clear_for_rebuild(session: Session, bulletin: Bulletin, *, now: datetime) -> None:
    """Withdraw an unsent bulletin's variants and links so they can be built again."""
    status = BulletinStatus(bulletin.status)
    deliveries = session.exec(
        select(func.count()).select_from(Delivery).where(col(Delivery.bulletin_id) == bulletin.id)
    ).one()
    if status in _SENT_STATUSES or deliveries:
        raise BuildError(
            f"bulletin {bulletin.month} is {status} with {deliveries} deliveries; "
            "a bulletin that has started sending cannot be rebuilt"
        )
    if status != BulletinStatus.draft:
        transition(session, bulletin, BulletinStatus.draft, now=now)
        log.info("bulletin %s returned from %s to draft for a rebuild", bulletin.month, status)
    link_ids = select(Link.id).where(col(Link.bulletin_id) == bulletin.id)
    # With no deliveries, these events can only be visits to the web archive of the version
    # being withdrawn; their links are about to disappear.
    withdrawn = (col(Event.bulletin_id) == bulletin.id) | col(Event.link_id).in_(link_ids)
    # Always this bulletin: its links (which the report cache groups by) change too.
    note_changed(session, [bulletin.id])
    delete_events(session, withdrawn)
    session.execute(delete(Variant).where(col(Variant.bulletin_id) == bulletin.id))
    session.execute(delete(Link).where(col(Link.bulletin_id) == bulletin.id))
    bulletin.approved_at = None
    bulletin.approved_by = None


def build_bulletin(
    session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock
) -> BuildResult:
    """Make or rebuild ``month``'s draft: one variant per agency, links registered, checked.

    Raises :class:`BuildError` (nothing changed) when the plan has no theme for ``month``,
    there are no agencies, or the bulletin has started sending.
    """
    try:
        theme = plan.theme(month)
    except KeyError as exc:
        raise BuildError(str(exc.args[0])) from None
    agencies = _agencies(session)
    if not agencies:
        raise BuildError("there are no agencies; load them first (newsletter init --sample)")
    now = clock.now()

    bulletin = _bulletin_for(session, month)
    if bulletin is None:
        bulletin = Bulletin(month=month, theme=theme.title, subject=theme.subject)
        session.add(bulletin)
        session.flush()
    else:
        _clear_for_rebuild(session, bulletin, now=clock.now())
    assert bulletin.id is not None
    bulletin.theme = theme.title
    bulletin.subject = theme.subject
    bulletin.preheader = theme.preheader
    bulletin.for_children = Audience.children in theme.audiences
    bulletin.for_adults = Audience.adults in theme.audiences
    bulletin.plan_hash = plan.digest
    bulletin.month_hash = month_digest(plan, month)
    bulletin.send_at = send_time(plan, theme)
    bulletin.built_at = now
    bulletin.updated_at = now

    registry = LinkRegistry()
    content = walk_theme(settings, theme, registry, agencies=[a.slug for a in agencies])
    links = registry.save(session, bulletin.id)

    renderer = Renderer(settings)
    samples = html_values(sample_values(settings))
    checks: list[CheckResult] = [check_contrast(settings)]
    variants: list[Variant] = []
    for agency in agencies:
        context = render_context(
            settings, theme=theme, agency=agency, content=content.for_agency(agency.slug)
        )
        rendered = renderer.render(context)
        shown = markers_in(rendered.html) | markers_in(rendered.text)
        hrefs = {p: href_for(settings, links[p], month=month, agency=agency.slug) for p in shown}
        body = resolve_markers(rendered.html, {p: html.escape(h) for p, h in hrefs.items()})
        text = resolve_markers(rendered.text, hrefs)
        checks += check_variant(
            settings,
            agency=agency.slug,
            html=body,
            text=text,
            sample_bytes=len(personalise(body, samples).encode()),
            targets=[links[p].url for p in shown],
        )
        variant = Variant(
            bulletin_id=bulletin.id,
            agency=agency.slug,
            subject=theme.subject,
            html=body,
            text=text,
            html_bytes=len(body.encode()),
            link_count=sum(1 for p in shown if links[p].kind != LinkKind.honeypot),
        )
        variants.append(variant)
    session.add_all(variants)
    bulletin.checks = [check.as_dict() for check in checks]
    bulletin.checks_passed = all(check.passed for check in checks)
    session.add(bulletin)
    session.flush()
    log.info(
        "built bulletin %s: %d variants, %d links, checks %s",
        month,
        len(variants),
        len(links),
        "passed" if bulletin.checks_passed else "FAILED",
    )
    return BuildResult(
        bulletin=bulletin,
        variants=variants,
        links=[links[p] for p in sorted(links)],
        checks=checks,
    )


def approve_bulletin(
    session: Session, settings: Settings, plan: Plan, month: str, *, by: str, clock: Clock
) -> Bulletin:
    """Approve ``month``'s draft for sending, or raise :class:`ApprovalRefused` with reasons:
    no such bulletin, not a draft, checks failing, the plan changed since the build, or
    ``by`` is not one of the approvers (people with the approver role; until anybody has it,
    NEWSLETTER_APPROVERS when set), or ``by`` changed the month's part of the plan since its
    last approval (four eyes; NEWSLETTER_FOUR_EYES=false allows it). The approval is recorded
    with the revision and the built variants (:mod:`.review`).

    A bulletin the scheduler marked ``missed`` may be approved too: a person deciding to send
    it late (with ``bulletin send``); the scheduler never sends it by itself."""
    bulletin = _bulletin_for(session, month)
    if bulletin is None:
        raise ApprovalRefused([f"there is no bulletin for {month}; build it first"])
    reasons: list[str] = []
    status = BulletinStatus(bulletin.status)
    if status not in (BulletinStatus.draft, BulletinStatus.missed):
        reasons.append(f"the bulletin is {status}; only a draft (or a missed one) can be approved")
    if not bulletin.checks_passed:
        failing = [c for c in bulletin.checks if not c.get("passed")]
        reasons += [
            f"check {c['name']} failed"
            + (f" for {c['agency']}" if c.get("agency") else "")
            + f": {c['detail']}"
            for c in failing
        ] or ["the bulletin's checks have not passed"]
    stale = out_of_date(bulletin, plan)
    if stale:
        reasons.append(f"{stale}; rebuild it and check it again")
    allowed = approvers(session, settings.approvers)
    if allowed and by.strip().lower() not in allowed:
        reasons.append(f"{by} is not one of the approvers (the people with the approver role)")
    reasons += four_eyes_reasons(session, settings, month, by)
    if reasons:
        raise ApprovalRefused(reasons)
    transition(session, bulletin, BulletinStatus.approved, now=clock.now())
    bulletin.approved_at = clock.now()
    bulletin.approved_by = by
    bulletin.updated_at = clock.now()
    session.add(bulletin)
    session.flush()
    record_approval(session, bulletin, by=by, clock=clock)
    log.info("bulletin %s approved by %s", month, by)
    return bulletin
