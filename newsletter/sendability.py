"""May this bulletin start sending? The one answer the CLI, the scheduler and the web give.

A *first start* of a send needs a bulletin that is approved (``approved`` or ``scheduled``, or
``missed`` after an approval), not paused, and not out of date: its month in the plan (theme,
the catalogue items it uses, its send time; see :mod:`newsletter.plan.digest`) is still what was
approved. Continuing a send already under way (``sending``, ``failed``, or ``sent`` with
``--retry-unknown``) is not a new start and is never refused here: the ledger decides who is
still owed a message.

Every refusal reads "bulletin MONTH may not be sent: REASON; WHAT TO DO", wherever it is shown.
"""

from __future__ import annotations

from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan.digest import month_digest
from newsletter.plan.model import Plan

# A send of these has begun: going on with it is not a start.
UNDER_WAY = frozenset({BulletinStatus.sending, BulletinStatus.sent, BulletinStatus.failed})


def out_of_date(bulletin: Bulletin, plan: Plan | None) -> str | None:
    """Why ``bulletin`` no longer matches its month in ``plan`` (None: it still does)."""
    if plan is None:
        return "the plan cannot be read, so the bulletin cannot be checked against it"
    if bulletin.month not in plan.themes:
        return f"the plan no longer has a theme for {bulletin.month}"
    if bulletin.month_hash:
        changed = bulletin.month_hash != month_digest(plan, bulletin.month)
    else:  # built before months had fingerprints: the whole plan's digest, as it was then
        changed = bulletin.plan_hash != plan.digest
    if changed:
        return (
            f"the {bulletin.month} theme, a catalogue item it uses or its send time has "
            "changed in the plan since it was built"
        )
    return None


def is_out_of_date(bulletin: Bulletin, plan: Plan | None) -> bool:
    return out_of_date(bulletin, plan) is not None


def _approved(bulletin: Bulletin) -> bool:
    status = BulletinStatus(bulletin.status)
    if status in (BulletinStatus.approved, BulletinStatus.scheduled):
        return True
    return status is BulletinStatus.missed and bulletin.approved_at is not None


def start_refusal(bulletin: Bulletin, plan: Plan | None) -> str | None:
    """Why ``bulletin`` may not start sending now, in words; None when it may.

    A send already under way (see :data:`UNDER_WAY`) may always go on: None.
    """
    status = BulletinStatus(bulletin.status)
    month = bulletin.month
    if status in UNDER_WAY:
        return None
    if status is BulletinStatus.cancelled:
        reason = f"it is cancelled; build it again (newsletter bulletin build {month})"
    elif not _approved(bulletin):
        reason = f"it is not approved; approve it first (newsletter bulletin approve {month})"
    elif bulletin.schedule_paused:
        reason = f"it is paused; resume it first (newsletter schedule resume {month})"
    else:
        stale = out_of_date(bulletin, plan)
        if stale is None:
            return None
        reason = (
            f"it is out of date: {stale}; rebuild and approve it again "
            f"(newsletter bulletin build {month}, then newsletter bulletin approve {month})"
        )
    return f"bulletin {month} may not be sent: {reason}"


def status_label(bulletin: Bulletin, plan: Plan | None) -> str:
    """The status as people should read it: "approved, out of date", "scheduled, paused"..."""
    status = BulletinStatus(bulletin.status)
    words = [status.value]
    if status in UNDER_WAY or status is BulletinStatus.cancelled:
        return status.value
    if status is BulletinStatus.missed and bulletin.approved_at is None:
        return status.value
    if bulletin.schedule_paused:
        words.append("paused")
    if is_out_of_date(bulletin, plan):
        words.append("out of date")
    return ", ".join(words)
