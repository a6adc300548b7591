"""The send ledger: one row per (bulletin, subscriber), written before any message leaves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class DeliveryStatus(StrEnum):
    pending = "pending"  # snapshotted, not yet handed to a transport
    sending = "sending"  # its batch was marked and handed over; outcome not yet recorded
    sent = "sent"  # the transport accepted it
    failed = "failed"  # permanent failure
    skipped = "skipped"  # the subscriber left (or was suppressed) after the snapshot
    unknown = "unknown"  # the request may have reached the provider: never resent silently


class Delivery(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("bulletin_id", "subscriber_id"),
        Index("ix_delivery_bulletin_status_id", "bulletin_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bulletin_id: int = Field(foreign_key="bulletin.id")
    # NULL once the subscriber is erased: the row stays as an anonymous agency-level record.
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id", index=True)
    agency: str = Field(max_length=40)  # snapshot at send time; later changes don't rewrite history
    variant_id: int = Field(foreign_key="variant.id")
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=String(20))
    batch: int | None = None
    provider_message_id: str | None = Field(default=None, max_length=200)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
