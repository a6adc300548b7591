"""Engagement and provider events. Raw events are kept with what is needed to judge them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field, SQLModel

from newsletter.models._base import utcnow


class EventType(StrEnum):
    processed = "processed"
    delivered = "delivered"
    deferred = "deferred"
    dropped = "dropped"
    bounce = "bounce"
    complaint = "complaint"
    open = "open"
    click = "click"
    unsubscribe = "unsubscribe"
    feedback_yes = "feedback_yes"
    feedback_no = "feedback_no"
    other = "other"  # a provider event type we do not know; kept for inspection


class EventSource(StrEnum):
    web = "web"  # our own pixel / redirect / unsubscribe endpoints
    sendgrid = "sendgrid"  # the signed Event Webhook
    system = "system"  # recorded by the service itself (CLI unsubscribe, ...)
    mailbox = "mailbox"  # a delivery report read from the bounce mailbox (IMAP)


class Event(SQLModel, table=True):
    __table_args__ = (
        Index("ix_event_bulletin_type_link", "bulletin_id", "type", "link_id"),
        Index("ix_event_delivery_type", "delivery_id", "type"),
        Index("ix_event_occurred_at", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # NULL in agency tracking mode, for archive views, and for provider events matching nothing.
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id")
    bulletin_id: int | None = Field(default=None, foreign_key="bulletin.id")
    agency: str | None = Field(default=None, max_length=40)
    link_id: int | None = Field(default=None, foreign_key="link.id")
    type: EventType = Field(sa_type=String(20))
    occurred_at: datetime = Field(default_factory=utcnow)
    recorded_at: datetime = Field(default_factory=utcnow)
    source: EventSource = Field(default=EventSource.web, sa_type=String(20))
    machine: bool = False
    machine_reason: str | None = Field(default=None, max_length=100)
    rules_version: str | None = Field(default=None, max_length=20)
    seconds_since_delivery: float | None = None
    method: str | None = Field(default=None, max_length=10)
    user_agent: str | None = Field(default=None, max_length=500)
    # SendGrid's sg_event_id: unique, so redelivered webhook batches are stored once.
    provider_event_id: str | None = Field(default=None, max_length=100, unique=True)
    # The provider's raw event when it matched nothing or had an unknown type.
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
