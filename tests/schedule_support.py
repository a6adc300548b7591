"""Fakes for the scheduler's seams that behave like the real parts: the fake build adds a real
draft row, the fake send moves the real bulletin status through ``transition`` (and refuses what
dispatch refuses), approver emails go through the in-memory transport."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.db import session_scope
from newsletter.lifecycle import transition
from newsletter.models import Bulletin, BulletinStatus
from newsletter.plan.model import Plan, SendSlot, Theme
from newsletter.schedule.deps import Deps, PlanUnavailable
from newsletter.transports import Transport
from newsletter.transports.memory import MemoryTransport

SLOT = SendSlot(day="1st tue", at=time(9, 0), timezone="Europe/London")
APPROVER = "lead@example.org"


def theme(month: str, **overrides: Any) -> Theme:
    values: dict[str, Any] = {
        "month": month,
        "title": f"Theme of {month}",
        "subject": f"Learning bulletin {month}",
        "preheader": "This month's learning",
        "audiences": (),
        "intro": "",
        "sections": (),
    }
    values.update(overrides)
    return Theme(**values)


def make_plan(
    months: Sequence[str], *, slot: SendSlot = SLOT, digest: str = "plan-v1", lead_days: int = 10
) -> Plan:
    return Plan(
        slot=slot,
        draft_lead_days=lead_days,
        catalogue={},
        themes={m: theme(m) for m in sorted(months)},
        digest=digest,
    )


@dataclass(frozen=True)
class Built:
    bulletin: Bulletin


@dataclass
class World:
    """The parts around the scheduler: a plan, assembly, dispatch, a transport, the roll-up."""

    plan: Plan | None
    transport: MemoryTransport = field(default_factory=MemoryTransport)
    sends: list[tuple[str, datetime]] = field(default_factory=list)
    builds: list[str] = field(default_factory=list)
    rolled_before: list[datetime] = field(default_factory=list)

    def deps(self) -> Deps:
        return Deps(
            load_plan=self.load_plan,
            build=self.build,
            send=self.send,
            transport_factory=self.make_transport,
            roll_up=self.roll_up,
        )

    def load_plan(self, settings: Settings) -> Plan:
        if self.plan is None:
            raise PlanUnavailable("campaigns/plan.yaml:3: send_slot.day: not a day expression")
        return self.plan

    def build(
        self, session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock
    ) -> Built:
        spec = plan.theme(month)
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).first()
        if bulletin is None:
            bulletin = Bulletin(month=month, theme=spec.title, subject=spec.subject)
            session.add(bulletin)
            session.flush()
        else:
            transition(session, bulletin, BulletinStatus.draft, now=clock.now())
        bulletin.plan_hash = plan.digest
        bulletin.checks_passed = True
        bulletin.built_at = clock.now()
        session.flush()
        self.builds.append(month)
        return Built(bulletin)

    def send(self, engine: Engine, settings: Settings, month: str, *, clock: Clock) -> str:
        with session_scope(engine) as session:
            bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).one()
            # refuses a draft, a sent one
            transition(session, bulletin, BulletinStatus.sending, now=clock.now())
            transition(session, bulletin, BulletinStatus.sent, now=clock.now())
        self.sends.append((month, clock.now()))
        return "3 sent"

    def make_transport(self, settings: Settings) -> Transport:
        return self.transport

    def roll_up(self, session: Session, *, before: datetime) -> int:
        self.rolled_before.append(before)
        return 0

    def subjects(self) -> list[str]:
        return [message.subject for message in self.transport.sent]


def approve(engine: Engine, month: str, *, clock: Clock) -> None:
    """What ``bulletin approve MONTH`` does to the row."""
    with session_scope(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).one()
        transition(session, bulletin, BulletinStatus.approved, now=clock.now())
        bulletin.approved_at = clock.now()
        bulletin.approved_by = APPROVER


def status_of(engine: Engine, month: str) -> BulletinStatus:
    with Session(engine) as session:
        bulletin = session.exec(select(Bulletin).where(col(Bulletin.month) == month)).one()
        return BulletinStatus(bulletin.status)
