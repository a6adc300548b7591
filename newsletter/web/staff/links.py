"""Emailed account links: invitations and password resets (single use, expiring, hashed).

The link carries 32 random bytes; the table keeps their SHA-256, the purpose, the expiry and
when it was used. Issuing a new link of a purpose voids the person's older unused ones of it.
The messages go out through the configured transport, like the approvers' notifications.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.accounts import user_id
from newsletter.config import Settings
from newsletter.models import AccountLink, LinkPurpose, User
from newsletter.transports import Batch, Outcome, Recipient, make_transport
from newsletter.web.staff.sessions import new_token, token_hash

log = logging.getLogger(__name__)

PATHS = {LinkPurpose.invite: "/admin/invitation/", LinkPurpose.reset: "/admin/reset-password/"}


def lifetime(settings: Settings, purpose: LinkPurpose) -> timedelta:
    if purpose is LinkPurpose.invite:
        return timedelta(days=settings.staff_invite_days)
    return timedelta(minutes=settings.staff_reset_minutes)


def issue(
    db: Session, user: User, purpose: LinkPurpose, *, settings: Settings, now: datetime
) -> str:
    """A new link for ``user`` (older unused ones of the same purpose stop working); its URL."""
    db.execute(
        update(AccountLink)
        .where(
            col(AccountLink.user_id) == user.id,
            col(AccountLink.purpose) == purpose,
            col(AccountLink.used_at).is_(None),
        )
        .values(used_at=now)
    )
    token = new_token()
    db.add(
        AccountLink(
            token_hash=token_hash(token),
            user_id=user_id(user),
            purpose=purpose,
            created_at=now,
            expires_at=now + lifetime(settings, purpose),
        )
    )
    db.flush()
    return f"{settings.public_base_url}{PATHS[purpose]}{token}"


def find(db: Session, token: str, purpose: LinkPurpose, *, now: datetime) -> AccountLink | None:
    """The unused, unexpired link named by ``token``, or None."""
    link = db.exec(
        select(AccountLink).where(
            col(AccountLink.token_hash) == token_hash(token), col(AccountLink.purpose) == purpose
        )
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    return link


def _message(
    purpose: LinkPurpose, url: str, *, settings: Settings, invited_by: str | None
) -> tuple[str, str]:
    name = settings.partnership_name
    if purpose is LinkPurpose.invite:
        who = f"{invited_by} has" if invited_by else "You have been"
        subject = f"Your account for the {name} bulletin"
        text = (
            f"{who} invited you to the staff pages of the {name} learning bulletin.\n\n"
            f"Choose your password here (the link works once, for {settings.staff_invite_days} days):\n"
            f"{url}\n\nIf you did not expect this, you can ignore this message.\n"
        )
    else:
        subject = f"Reset your password for the {name} bulletin"
        text = (
            "Someone (we hope you) asked to reset your password for the staff pages of the "
            f"{name} learning bulletin.\n\n"
            f"Choose a new password here (the link works once, for {settings.staff_reset_minutes} minutes):\n"
            f"{url}\n\nIf you did not ask, ignore this message: your password stays as it is.\n"
        )
    return subject, text


def send(
    settings: Settings, *, to: str, purpose: LinkPurpose, url: str, invited_by: str | None = None
) -> bool:
    """Email the link; False (and logged) when the transport refused it."""
    subject, text = _message(purpose, url, settings=settings, invited_by=invited_by)
    batch = Batch(
        subject=subject,
        html=None,
        text=text,
        recipients=[Recipient(delivery_id=None, email=to, name="", values={})],
        from_address=settings.from_address,
        reply_to=settings.reply_to,
    )
    try:
        transport = make_transport(settings)
    except ValueError as exc:
        log.error("account email to %s not sent: %s", to, exc)
        return False
    try:
        results = transport.send(batch)
    except Exception as exc:  # any transport failure: the page says it was not sent
        log.error("account email to %s not sent: %s", to, exc)
        return False
    finally:
        transport.close()
    ok = all(r.outcome is not Outcome.failed for r in results)
    if not ok:
        log.error("account email to %s refused: %s", to, [r.error for r in results])
    return ok
