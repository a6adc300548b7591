"""May this bulletin start sending? The one answer the CLI, the scheduler and the web give.

A *first start* of a send needs a bulletin that is approved (``approved`` or ``scheduled``, or
``missed`` after an approval), not paused, and not out of date: its month in the plan (theme and
the catalogue items it uses; see :mod:`newsletter.plan.digest`) is still what was approved.
Moving the month's send date or time is not a change of what was approved: the approval stands. Continuing a send already under way (``sending``, ``failed``, or ``sent`` with
``--retry-unknown``) is not a new start and is never refused here: the ledger decides who is
still owed a message.

Every refusal reads "bulletin MONTH may not be sent: REASON; WHAT TO DO", wherever it is shown.
:func:`start_refusal_reason` gives the REASON alone, for pages that say what to do in their own
words (a button, not a command).
"""

from __future__ import annotations

from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan.digest import month_digest, month_digest_with_send_time
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
        changed = bulletin.month_hash not in (
            month_digest(plan, bulletin.month),
            month_digest_with_send_time(plan, bulletin.month),  # built before 0011
        )
    else:  # built before months had fingerprints: the whole plan's digest, as it was then
        changed = bulletin.plan_hash != plan.digest
    if changed:
        return (
            f"the {bulletin.month} theme or a catalogue item it uses has changed in the plan "
            "since it was built"
        )
    return None


def is_out_of_date(bulletin: Bulletin, plan: Plan | None) -> bool:
    return out_of_date(bulletin, plan) is not None


def _approved(bulletin: Bulletin) -> bool:
    status = BulletinStatus(bulletin.status)
    if status in (BulletinStatus.approved, BulletinStatus.scheduled):
        return True
    return status is BulletinStatus.missed and bulletin.approved_at is not None


def _refusal(bulletin: Bulletin, plan: Plan | None) -> tuple[str, str] | None:
    """(reason, what to do at the command line) when ``bulletin`` may not start; else None."""
    status = BulletinStatus(bulletin.status)
    month = bulletin.month
    if status in UNDER_WAY:
        return None
    if status is BulletinStatus.cancelled:
        return "it is cancelled", f"build it again (newsletter bulletin build {month})"
    if not _approved(bulletin):
        return "it is not approved", f"approve it first (newsletter bulletin approve {month})"
    if bulletin.schedule_paused:
        return "it is paused", f"resume it first (newsletter schedule resume {month})"
    stale = out_of_date(bulletin, plan)
    if stale is None:
        return None
    return (
        f"it is out of date: {stale}",
        f"rebuild and approve it again (newsletter bulletin build {month}, then "
        f"newsletter bulletin approve {month})",
    )


def start_refusal(bulletin: Bulletin, plan: Plan | None) -> str | None:
    """Why ``bulletin`` may not start sending now, in words; None when it may.

    A send already under way (see :data:`UNDER_WAY`) may always go on: None.
    """
    refusal = _refusal(bulletin, plan)
    if refusal is None:
        return None
    reason, remedy = refusal
    return f"bulletin {bulletin.month} may not be sent: {reason}; {remedy}"


def start_refusal_reason(bulletin: Bulletin, plan: Plan | None) -> str | None:
    """The same rule as :func:`start_refusal`, the reason only ("it is paused"): for pages,
    which offer the fix as a button rather than a command."""
    refusal = _refusal(bulletin, plan)
    return None if refusal is None else refusal[0]


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
