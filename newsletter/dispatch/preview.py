"""Looking before sending: counts without sending (``--dry-run``) and test copies (``--test-to``).

Neither writes a delivery row nor changes the bulletin: test copies are not part of the ledger,
so reports never count them, and their links carry no delivery token.
"""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlmodel import Session, col

from newsletter import urls
from newsletter.config import Settings
from newsletter.dispatch import messages
from newsletter.dispatch.audience import audience_select
from newsletter.dispatch.send import load_bulletin
from newsletter.dispatch.summary import DispatchError
from newsletter.models import Agency, Delivery, DeliveryStatus, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.transports.base import Recipient, RecipientResult, Transport

# What stands in for the per-recipient tokens in a test copy: links open our pages, which do
# not recognise it (no delivery, nothing recorded), so a test click is never counted.
TEST_TOKEN = "test-copy"  # noqa: S105
TEST_NAME = "Test Recipient"


@dataclass(frozen=True, slots=True)
class DryRunRow:
    agency: str
    variant_id: int | None  # None: the agency has no variant, its subscribers would get nothing
    subject: str | None
    audience: int  # active, unsuppressed subscribers of the agency in the bulletin's audience
    in_ledger: int  # rows already snapshotted for the agency (any status)
    pending: int  # rows still to send
    unknown: int = 0  # rows whose outcome is unknown (resent only with --retry-unknown)


@dataclass(frozen=True, slots=True)
class DryRun:
    month: str
    status: str
    rows: list[DryRunRow]

    @property
    def audience(self) -> int:
        return sum(r.audience for r in self.rows)

    @property
    def unknown(self) -> int:
        return sum(r.unknown for r in self.rows)

    @property
    def would_send(self) -> int:
        """Messages a send would hand to the transport now (assuming nobody leaves first)."""
        if any(r.in_ledger for r in self.rows):
            return sum(r.pending for r in self.rows)
        return sum(r.audience for r in self.rows if r.variant_id is not None)


def dry_run(session: Session, settings: Settings, month: str) -> DryRun:
    """Counts by agency and variant of who a send would reach; nothing is written."""
    bulletin = load_bulletin(session, month)
    assert bulletin.id is not None
    audience = audience_select(bulletin).order_by(None).subquery("audience")
    by_agency: dict[str, int] = {
        agency: int(n)
        for agency, n in session.execute(
            select(audience.c.agency, func.count()).group_by(audience.c.agency)
        )
    }
    variants = {
        v.agency: v
        for v in session.scalars(select(Variant).where(col(Variant.bulletin_id) == bulletin.id))
    }
    ledger_rows: dict[str, tuple[int, int]] = {}
    unknown: dict[str, int] = {}
    stmt = (
        select(col(Delivery.agency), col(Delivery.status), func.count())
        .where(col(Delivery.bulletin_id) == bulletin.id)
        .group_by(col(Delivery.agency), col(Delivery.status))
    )
    for agency, status, n in session.execute(stmt):
        if status == DeliveryStatus.unknown:
            unknown[agency] = unknown.get(agency, 0) + n
        total, pending = ledger_rows.get(agency, (0, 0))
        ledger_rows[agency] = (
            total + n,
            pending + (n if status == DeliveryStatus.pending else 0),
        )
    rows = []
    for agency in sorted(set(by_agency) | set(variants) | set(ledger_rows)):
        variant = variants.get(agency)
        total, pending = ledger_rows.get(agency, (0, 0))
        rows.append(
            DryRunRow(
                agency=agency,
                variant_id=variant.id if variant else None,
                subject=variant.subject if variant else None,
                audience=int(by_agency.get(agency, 0)),
                in_ledger=total,
                pending=pending,
                unknown=unknown.get(agency, 0),
            )
        )
    return DryRun(month=month, status=str(bulletin.status), rows=rows)


@dataclass(frozen=True, slots=True)
class TestCopy:
    """One proof copy: which agency's variant, what the transport said, its preview page."""

    __test__ = False  # not a pytest test class

    agency: str
    agency_name: str
    subject: str
    result: RecipientResult
    preview_url: str


def send_test_copies(
    session: Session,
    settings: Settings,
    month: str,
    *,
    to: str,
    transport: Transport,
    now: datetime,
    agencies: Collection[str] | None = None,
) -> list[TestCopy]:
    """One copy of each variant (of ``agencies`` when given) to ``to``, subject prefixed
    "[TEST] Agency name: ".

    Each copy's links carry a proof token valid for NEWSLETTER_PREVIEW_DAYS from ``now``; its
    "view in browser" link opens the preview page of the same variant (the draft is not in the
    public archive). No delivery rows, no status change, never counted; transport errors
    propagate (the caller
    shows them).
    """
    try:
        address = validate_email(to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise DispatchError(f"{to!r} is not an email address: {exc}") from exc
    bulletin = load_bulletin(session, month)
    assert bulletin.id is not None
    query = (
        select(Variant, col(Agency.name))
        .join(Agency, col(Agency.slug) == col(Variant.agency))
        .where(col(Variant.bulletin_id) == bulletin.id)
        .order_by(col(Agency.position), col(Agency.slug))
    )
    rows = [(variant, name) for variant, name in session.execute(query)]
    if not rows:
        raise DispatchError(f"bulletin {month} has no variants; build it first")
    if agencies is not None:
        known = [variant.agency for variant, _name in rows]
        unknown = set(agencies) - set(known)
        if unknown:
            raise DispatchError(
                f"bulletin {month} has no variant for agency "
                f"{', '.join(repr(a) for a in sorted(unknown))}; "
                f"the variants are: {', '.join(known)}"
            )
        rows = [(variant, name) for variant, name in rows if variant.agency in agencies]
    domain = messages.sender_domain(settings)
    out = []
    for variant, name in rows:
        proof = urls.new_proof_token(
            settings, bulletin_id=bulletin.id, agency=variant.agency, now=now
        )
        preview = urls.preview_url(settings, proof)
        archive = urls.archive_url(settings, month, variant.agency)
        copy = Variant(
            bulletin_id=variant.bulletin_id,
            agency=variant.agency,
            subject=variant.subject,
            html=variant.html.replace(html.escape(archive), html.escape(preview)),
            text=variant.text.replace(archive, preview),
        )
        recipient = Recipient(
            delivery_id=None,
            email=address,
            name=TEST_NAME,
            values={TOKEN: proof, SUBSCRIBER: TEST_TOKEN, NAME: TEST_NAME},
            headers=messages.unsubscribe_headers(settings, TEST_TOKEN),
            message_id=messages.message_id(domain, None),
        )
        prefix = f"[TEST] {name}: "
        batch = messages.variant_batch(settings, bulletin, copy, [recipient], subject_prefix=prefix)
        (result,) = transport.send(batch)
        out.append(TestCopy(variant.agency, name, batch.subject, result, preview))
    return out
