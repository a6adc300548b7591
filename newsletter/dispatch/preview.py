"""Looking before sending: counts without sending (``--dry-run``) and test copies (``--test-to``).

Neither writes a delivery row nor changes the bulletin: test copies are not part of the ledger,
so reports never count them, and their links carry no delivery token.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlmodel import Session, col

from newsletter.config import Settings
from newsletter.dispatch import messages
from newsletter.dispatch.audience import audience_select
from newsletter.dispatch.send import load_bulletin
from newsletter.dispatch.summary import DispatchError
from newsletter.models import Agency, Delivery, DeliveryStatus, Variant
from newsletter.personalise import NAME, SUBSCRIBER, TOKEN
from newsletter.tokens import proof_token
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


def send_test_copies(
    session: Session,
    settings: Settings,
    month: str,
    *,
    to: str,
    transport: Transport,
    agencies: Collection[str] | None = None,
) -> list[tuple[str, RecipientResult]]:
    """One copy of each variant (of ``agencies`` when given) to ``to``, subject prefixed
    "[TEST] Agency name: "; ``(agency, result)``.

    No delivery rows, no status change, never counted; transport errors propagate (the caller
    shows them).
    """
    try:
        address = validate_email(to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise DispatchError(f"{to!r} is not an email address: {exc}") from exc
    bulletin = load_bulletin(session, month)
    variants = list(
        session.scalars(
            select(Variant)
            .where(col(Variant.bulletin_id) == bulletin.id)
            .order_by(col(Variant.agency))
        )
    )
    if not variants:
        raise DispatchError(f"bulletin {month} has no variants; build it first")
    if agencies is not None:
        unknown = set(agencies) - {v.agency for v in variants}
        if unknown:
            raise DispatchError(f"bulletin {month} has no variant for {', '.join(sorted(unknown))}")
        variants = [v for v in variants if v.agency in agencies]
    names: dict[str, str] = {a.slug: a.name for a in session.scalars(select(Agency))}
    domain = messages.sender_domain(settings)
    out = []
    for variant in variants:
        recipient = Recipient(
            delivery_id=None,
            email=address,
            name=TEST_NAME,
            values={
                TOKEN: proof_token(settings.secret, variant.bulletin_id, variant.agency),
                SUBSCRIBER: TEST_TOKEN,
                NAME: TEST_NAME,
            },
            headers=messages.unsubscribe_headers(settings, TEST_TOKEN),
            message_id=messages.message_id(domain, None),
        )
        batch = messages.variant_batch(
            settings,
            bulletin,
            variant,
            [recipient],
            subject_prefix=f"[TEST] {names.get(variant.agency) or variant.agency}: ",
        )
        (result,) = transport.send(batch)
        out.append((variant.agency, result))
    return out
