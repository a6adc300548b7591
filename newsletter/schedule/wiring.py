"""The real implementations behind :class:`~newsletter.schedule.deps.Deps`."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.plan.model import Plan
from newsletter.schedule.deps import Built, PlanUnavailable
from newsletter.transports import Transport


def _attr(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


def load_plan(settings: Settings) -> Plan:
    from newsletter.plan.loader import PlanInvalid, load_checked_plan

    try:
        return load_checked_plan(settings)
    except PlanInvalid as exc:
        raise PlanUnavailable(str(exc)) from exc


def build(session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock) -> Built:
    result: Built = _attr("newsletter.assemble", "build_bulletin")(
        session, settings, plan, month, clock=clock
    )
    return result


def make_transport(settings: Settings) -> Transport:
    transport: Transport = _attr("newsletter.transports", "make_transport")(settings)
    return transport


def send(engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
    """Send ``month`` through the configured transport: the same call as ``bulletin send``."""
    transport = make_transport(settings)
    try:
        summary: object = _attr("newsletter.dispatch", "send_bulletin")(
            engine, settings, month, transport=transport, clock=clock
        )
    finally:
        transport.close()
    return summary


def roll_up(session: Session, *, before: datetime) -> int:
    count: int = _attr("newsletter.reports.rollup", "roll_up_events")(session, before=before)
    return count
