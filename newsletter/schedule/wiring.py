"""The real implementations behind :class:`~newsletter.schedule.deps.Deps`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.plan.model import Plan
from newsletter.schedule.deps import Built, PlanUnavailable
from newsletter.transports import Transport


def load_plan(settings: Settings) -> Plan:
    from newsletter.plan.loader import PlanInvalid, load_checked_plan

    try:
        return load_checked_plan(settings)
    except PlanInvalid as exc:
        raise PlanUnavailable(str(exc)) from exc


def build(session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock) -> Built:
    from newsletter.assemble import build_bulletin

    return build_bulletin(session, settings, plan, month, clock=clock)


def make_transport(settings: Settings) -> Transport:
    from newsletter.transports import make_transport as make

    return make(settings)


def send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
    """Send ``month`` through the configured transport: the same call as ``bulletin send``."""
    from newsletter.dispatch import send_bulletin

    transport = make_transport(settings)
    try:
        return send_bulletin(engine, settings, month, transport=transport, clock=clock)
    finally:
        transport.close()


def roll_up(session: Session, *, before: datetime) -> int:
    from newsletter.reports.rollup import roll_up_events

    return roll_up_events(session, before=before)
