"""A bulletin's review: asking for approval, rejecting with a comment, and what approval needs.

* Four eyes (``NEWSLETTER_FOUR_EYES``, on by default): nobody who changed the month's part of
  the plan (its theme document) since the month's last approval may approve it.
* An approval records exactly what was approved (:func:`variant_digests` and the revision), so
  that the bulletin page can say "out of date" the moment anything of the month changes.

Rows are written here and in :func:`newsletter.assemble.build.approve_bulletin` only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, col, select

from newsletter.accounts import approvers
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import (
    Bulletin,
    BulletinReview,
    BulletinStatus,
    PlanRevision,
    ReviewAction,
    Variant,
)
from newsletter.plan.snapshot import THEMES_DIR


class ReviewRefused(Exception):
    """The review step may not happen; ``reasons`` says why, one line each."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


REVIEWABLE = (BulletinStatus.draft, BulletinStatus.missed)


def _bulletin(session: Session, month: str) -> Bulletin:
    bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
    if bulletin is None:
        raise ReviewRefused([f"there is no bulletin for {month}; build it first"])
    return bulletin


def variant_digests(session: Session, bulletin_id: int) -> dict[str, str]:
    """``{agency: sha256(subject, HTML, text)}`` of the bulletin's built variants."""
    out: dict[str, str] = {}
    for variant in session.exec(select(Variant).where(col(Variant.bulletin_id) == bulletin_id)):
        digest = hashlib.sha256()
        for part in (variant.subject, variant.html, variant.text):
            digest.update(part.encode())
            digest.update(b"\0")
        out[variant.agency] = digest.hexdigest()
    return dict(sorted(out.items()))


def built_from(session: Session, bulletin: Bulletin) -> int | None:
    """The number of the plan revision the bulletin was built from (None: not a revision)."""
    number = session.exec(
        select(PlanRevision.number)
        .where(col(PlanRevision.digest) == bulletin.plan_hash)
        .order_by(col(PlanRevision.number).desc())
    ).first()
    return number


def reviews(session: Session, month: str) -> list[BulletinReview]:
    """The month's review history, oldest first."""
    return list(
        session.exec(
            select(BulletinReview)
            .where(col(BulletinReview.month) == month)
            .order_by(col(BulletinReview.at), col(BulletinReview.id))
        )
    )


def last_review(session: Session, month: str, action: ReviewAction) -> BulletinReview | None:
    return session.exec(
        select(BulletinReview)
        .where(col(BulletinReview.month) == month, col(BulletinReview.action) == action)
        .order_by(col(BulletinReview.at).desc(), col(BulletinReview.id).desc())
    ).first()


def _theme_text(documents: dict[str, str], month: str) -> str | None:
    for suffix in (".yaml", ".yml"):
        text = documents.get(f"{THEMES_DIR}/{month}{suffix}")
        if text is not None:
            return text
    return None


def changed_month_since(session: Session, month: str, since: datetime | None) -> list[str]:
    """Who changed ``month``'s theme document in a revision made after ``since`` (None: ever),
    lower-cased, in the order of their first change."""
    query = select(PlanRevision).order_by(col(PlanRevision.number))
    previous: str | None = None
    authors: list[str] = []
    for revision in session.exec(query):
        text = _theme_text(revision.documents, month)
        changed = text != previous
        previous = text
        if not changed or (since is not None and revision.created_at <= since):
            continue
        author = revision.author.strip().lower()
        if author not in authors:
            authors.append(author)
    return authors


def four_eyes_reasons(session: Session, settings: Settings, month: str, by: str) -> list[str]:
    """Why ``by`` may not approve ``month`` under the four-eyes rule (empty: they may)."""
    if not settings.four_eyes:
        return []
    last = last_review(session, month, ReviewAction.approved)
    if by.strip().lower() in changed_month_since(session, month, last.at if last else None):
        return [
            f"{by} changed {month}'s part of the plan since its last approval; "
            "somebody else must approve it (four eyes)"
        ]
    return []


def may_approve(session: Session, settings: Settings, month: str, by: str) -> list[str]:
    """Every reason ``by`` personally may not approve ``month`` (the bulletin's own state
    aside): not an approver, or the four-eyes rule."""
    reasons: list[str] = []
    if by.strip().lower() not in approvers(session, settings.approvers):
        reasons.append(f"{by} is not one of the approvers (the people with the approver role)")
    return reasons + four_eyes_reasons(session, settings, month, by)


def ask_for_approval(session: Session, month: str, *, by: str, clock: Clock) -> BulletinReview:
    """Record that ``by`` asks for ``month``'s approval (the caller emails the approvers)."""
    bulletin = _bulletin(session, month)
    reasons = []
    if bulletin.status not in REVIEWABLE:
        reasons.append(f"the bulletin is {bulletin.status}; only a draft can be sent for approval")
    if not bulletin.checks_passed:
        reasons.append("the bulletin's checks have not passed; fix them first")
    if reasons:
        raise ReviewRefused(reasons)
    return _record(session, bulletin, ReviewAction.asked, by=by, clock=clock)


def reject_bulletin(
    session: Session, settings: Settings, month: str, *, by: str, comment: str, clock: Clock
) -> BulletinReview:
    """``by`` (an approver) sends ``month`` back to the editors with ``comment``."""
    bulletin = _bulletin(session, month)
    reasons = []
    if not comment.strip():
        reasons.append("say what needs to change: the editors see your comment")
    if bulletin.status not in REVIEWABLE:
        reasons.append(f"the bulletin is {bulletin.status}; only a draft can be rejected")
    if by.strip().lower() not in approvers(session, settings.approvers):
        reasons.append(f"{by} is not one of the approvers (the people with the approver role)")
    if reasons:
        raise ReviewRefused(reasons)
    return _record(
        session, bulletin, ReviewAction.rejected, by=by, clock=clock, comment=comment.strip()
    )


def record_approval(
    session: Session, bulletin: Bulletin, *, by: str, clock: Clock
) -> BulletinReview:
    return _record(session, bulletin, ReviewAction.approved, by=by, clock=clock)


def _record(
    session: Session,
    bulletin: Bulletin,
    action: ReviewAction,
    *,
    by: str,
    clock: Clock,
    comment: str = "",
) -> BulletinReview:
    assert bulletin.id is not None
    row = BulletinReview(
        bulletin_id=bulletin.id,
        month=bulletin.month,
        action=action,
        by=by,
        comment=comment[:4000],
        revision=built_from(session, bulletin),
        plan_hash=bulletin.plan_hash,
        variants=variant_digests(session, bulletin.id),
        at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def approval_out_of_date(session: Session, bulletin: Bulletin) -> list[str]:
    """What changed since the approval now standing (empty: exactly what was approved)."""
    if bulletin.status not in (BulletinStatus.approved, BulletinStatus.scheduled):
        return []
    assert bulletin.id is not None
    last = last_review(session, bulletin.month, ReviewAction.approved)
    if last is None:
        return []
    changes = []
    if last.plan_hash != bulletin.plan_hash:
        changes.append("the bulletin was rebuilt from another plan revision")
    now = variant_digests(session, bulletin.id)
    for agency in sorted(set(now) | set(last.variants)):
        if now.get(agency) != last.variants.get(agency):
            changes.append(f"the {agency} variant changed since it was approved")
    return changes
