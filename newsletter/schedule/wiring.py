"""The real implementations behind :class:`~newsletter.schedule.deps.Deps`, wired with ordinary
imports: ``schedule`` sits on top of the flow and may import every area below it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.assemble import build_bulletin
from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.dispatch import send_bulletin
from newsletter.plan import Plan, PlanInvalid, load_checked_plan
from newsletter.reports.rollup import roll_up_events
from newsletter.schedule.deps import Built, Deps, PlanUnavailable
from newsletter.transports import Transport
from newsletter.transports import make_transport as make


def load_plan(settings: Settings) -> Plan:
    try:
        return load_checked_plan(settings)
    except PlanInvalid as exc:
        raise PlanUnavailable(str(exc)) from exc


def build(session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock) -> Built:
    return build_bulletin(session, settings, plan, month, clock=clock)


def make_transport(settings: Settings) -> Transport:
    return make(settings)


def send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
    """Send ``month`` through the configured transport: the same call as ``bulletin send``."""
    transport = make_transport(settings)
    try:
        return send_bulletin(
            engine, settings, month, transport=transport, clock=clock, started_by="the scheduler"
        )
    finally:
        transport.close()


def roll_up(session: Session, *, before: datetime) -> int:
    return roll_up_events(session, before=before)


def default_deps() -> Deps:
    """The real implementations."""
    return Deps(
        load_plan=load_plan,
        build=build,
        send=send,
        transport_factory=make_transport,
        roll_up=roll_up,
    )
