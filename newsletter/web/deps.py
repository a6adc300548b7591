"""Request dependencies, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from newsletter.clock import Clock
from newsletter.config import Settings
from newsletter.models import Subscriber
from newsletter.subscribers import find_by_token


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_clock_dep(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
EngineDep = Annotated[Engine, Depends(get_engine_dep)]
ClockDep = Annotated[Clock, Depends(get_clock_dep)]
SessionDep = Annotated[Session, Depends(get_session)]


class SubscriberNotFound(Exception):
    """The token of a /u or /p page names no subscriber (unknown, malformed, forged or erased);
    the app answers the same plain 404 page for each."""


def subscriber_by_token(token: str, session: SessionDep) -> Subscriber:
    """The subscriber the path's ``{token}`` names, or :class:`SubscriberNotFound`."""
    subscriber = find_by_token(session, token)
    if subscriber is None:
        raise SubscriberNotFound
    return subscriber


TokenSubscriber = Annotated[Subscriber, Depends(subscriber_by_token)]
