"""What the scheduler calls in other areas, as seams: the plan, assembly, dispatch, transports
and the reports roll-up. :func:`newsletter.schedule.wiring.default_deps` wires the real ones;
tests pass fakes that behave the same way (a fake build adds a real draft row, a fake send moves
the real status). This module only names the seams: it imports none of the areas behind them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import Bulletin
from newsletter.plan.model import Plan
from newsletter.schedule.notify import TransportFactory


class PlanUnavailable(Exception):
    """The plan could not be read or is invalid; the message lists the problems."""


class Built(Protocol):
    @property
    def bulletin(self) -> Bulletin: ...


class BuildFn(Protocol):
    def __call__(
        self, session: Session, settings: Settings, plan: Plan, month: str, *, clock: Clock
    ) -> Built:
        """Assemble (or rebuild) the draft of ``month`` in ``session`` (the caller commits)."""
        ...


class SendFn(Protocol):
    def __call__(self, engine: Engine, settings: Settings, month: str, *, clock: Clock) -> object:
        """Send the approved bulletin of ``month``; returns a summary (shown in logs)."""
        ...


class RollUpFn(Protocol):
    def __call__(self, session: Session, *, before: datetime) -> int:
        """Roll raw events older than ``before`` into aggregates and delete them."""
        ...


@dataclass(frozen=True)
class Deps:
    load_plan: Callable[[Settings], Plan]  # raises PlanUnavailable
    build: BuildFn
    send: SendFn
    transport_factory: TransportFactory
    roll_up: RollUpFn
