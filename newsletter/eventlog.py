"""The one owner of writes to events: every insert, machine flag and deletion goes through here,
and each bumps the report version of the bulletins it touched, in the writer's transaction.

The report cache (``newsletter.reports.cache``) recomputes a bulletin only when its row in
``bulletin_events_version`` moves. Rather than trusting every writer to remember that bump,
the writers (assembly's rebuild, the subscribers' unsubscribe, the tracking recorder, the
provider webhook, the roll-up) write events only through the functions below, which bump
the version themselves. The reports also count sent deliveries per agency; the ledger, which
alone changes a delivery's status, calls :func:`note_changed` when it marks deliveries sent.

This module sits below every writer (beside ``models`` and ``db``); it imports neither
``reports`` nor any other area of the flow.

Each bulletin is bumped at most once per transaction of a given session or connection (the
bump is an upsert on one small row: a webhook batch of a thousand events of one bulletin pays
for it once). Inside a savepoint every call bumps, since a savepoint can roll back alone.

Appending and rewriting are told apart. Inserting new events only *appends*: the version
moves, and the report cache may add just the events after its high-water mark (the highest
event id it counted). Deleting events, flagging them as machine activity, or any direct call
of :func:`note_changed` *rewrites*: ``rewritten`` moves with the version and the cache
recounts the bulletin. For the high-water mark to be exact, the bump comes BEFORE the insert:
it locks the bulletin's version row until commit (PostgreSQL), so the events of one bulletin
are inserted by one transaction at a time and their ids grow in commit order; a report that
sees a bulletin's event with id N has seen all its events with smaller ids. (SQLite has one
writer at a time anyway.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Connection, Dialect, and_, bindparam, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from newsletter.db import dialect_insert
from newsletter.models import BulletinEventsVersion, Event

__all__ = [
    "MachineFlag",
    "add_event",
    "clear_payloads",
    "delete_events",
    "flag_machine",
    "insert_event_once",
    "insert_events",
    "note_changed",
]

_EVENT: Any = Event.__table__  # type: ignore[attr-defined]
_VERSION: Any = BulletinEventsVersion.__table__  # type: ignore[attr-defined]
_BUMPED = "newsletter.eventlog.bumped"  # key in Session.info / Connection.info

Target = Session | Connection


@dataclass(frozen=True, slots=True)
class MachineFlag:
    """Flag a delivery's events from ``since`` on as machine activity, for ``reason``."""

    bulletin_id: int | None
    delivery_id: int
    since: datetime
    reason: str | None


def note_changed(
    target: Target, bulletin_ids: Iterable[int | None], *, rewritten: bool = True
) -> None:
    """Bump the report version of these bulletins in ``target``'s transaction.

    The writers below call it themselves; call it directly only for the other rows the reports
    read (a delivery marked sent, a bulletin's links rebuilt, roll-up rows). ``None`` ids
    (events of no bulletin) are ignored; ids are taken in order so that concurrent writers
    lock the version rows in one order.

    ``rewritten=False`` says the change can be followed without recounting: only events
    appended after the others (the inserts below), or only deliveries marked sent (the cache
    recounts its sent rows on every refresh). Anything else must leave it True.
    """
    ids = {b for b in bulletin_ids if b is not None}
    if not ids:
        return
    nested = target.in_nested_transaction()
    txn = target.get_transaction()
    seen: tuple[Any, set[int], set[int]] | None = target.info.get(_BUMPED)
    current = seen is not None and txn is not None and seen[0] is txn
    done = seen[1] if current and seen is not None else set()
    done_rewritten = seen[2] if current and seen is not None else set()
    todo = sorted(ids if nested else ids - (done_rewritten if rewritten else done))
    if not todo:
        return
    bind = target.get_bind() if isinstance(target, Session) else target
    stmt = _bump_statement(bind.dialect.name, rewritten)
    if len(todo) == 1:
        target.execute(stmt, {"b": todo[0], "r": int(rewritten)})
    else:
        target.execute(stmt, [{"b": b, "r": int(rewritten)} for b in todo])
    if not nested:
        target.info[_BUMPED] = (
            target.get_transaction(),
            done | set(todo),
            done_rewritten | set(todo) if rewritten else done_rewritten,
        )


@lru_cache(maxsize=8)
def _bump_statement(dialect: str, rewritten: bool) -> Any:
    """The version bump as an upsert with parameters, built once per dialect and kind, so that
    its compiled form is cached (a multi-row VALUES upsert is compiled anew on every call, and
    the recorder bumps on every group commit)."""
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = upsert(_VERSION).values(bulletin_id=bindparam("b"), version=1, rewritten=bindparam("r"))
    bumped: dict[str, Any] = {"version": _VERSION.c.version + 1}
    if rewritten:
        bumped["rewritten"] = _VERSION.c.version + 1
    return stmt.on_conflict_do_update(index_elements=["bulletin_id"], set_=bumped)


def add_event(session: Session, event: Event) -> None:
    """Add one event to ``session`` (the caller commits)."""
    note_changed(session, [event.bulletin_id], rewritten=False)  # first: see the module
    session.add(event)


def insert_events(target: Target, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (dicts of :class:`Event`'s columns but ``id``), in bulk."""
    if not rows:
        return
    note_changed(target, [r["bulletin_id"] for r in rows], rewritten=False)  # first
    bind = target if isinstance(target, Connection) else target.connection()
    if bind.dialect.name == "sqlite":
        _insert_sqlite(bind, rows)
    elif bind.dialect.driver == "psycopg" and len(rows) > 1:
        _copy_postgresql(bind, rows)
    else:
        bind.execute(insert(_EVENT), list(rows))


def insert_event_once(session: Session, values: dict[str, Any]) -> bool:
    """Insert one event unless its ``provider_event_id`` is stored already; True if new.

    The bump must come before the insert (see the module), yet an event stored already should
    not move the version: until the bulletin's version row is locked by this transaction, the
    event is looked up first (the lookup replaces the insert of a redelivered event, so a
    redelivered batch costs no more than before). A duplicate racing in from another
    transaction only causes a needless bump.
    """
    bulletin_id = values.get("bulletin_id")
    provider_id = values.get("provider_event_id")
    if (
        bulletin_id is not None
        and provider_id is not None
        and not _bumped(session, bulletin_id)
        and session.execute(
            select(_EVENT.c.id).where(_EVENT.c.provider_event_id == provider_id)
        ).first()
        is not None
    ):
        return False
    note_changed(session, [bulletin_id], rewritten=False)
    inserted = session.execute(
        dialect_insert(session, _EVENT)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider_event_id"])
        .returning(_EVENT.c.id)  # rowcount is -1 for such inserts on psycopg
    ).first()
    return inserted is not None


def _bumped(target: Target, bulletin_id: int) -> bool:
    """Whether this transaction (not a savepoint) bumped the bulletin already."""
    seen = target.info.get(_BUMPED)
    return (
        not target.in_nested_transaction()
        and seen is not None
        and seen[0] is target.get_transaction()
        and bulletin_id in seen[1]
    )


def flag_machine(target: Target, flags: Sequence[MachineFlag]) -> None:
    """Flag as machine activity each delivery's not-yet-flagged events from ``since`` on."""
    if not flags:
        return
    target.execute(
        update(_EVENT)
        .where(
            and_(
                col(Event.delivery_id) == bindparam("d"),
                col(Event.occurred_at) >= bindparam("since"),
                col(Event.machine).is_(False),
            )
        )
        .values(machine=True, machine_reason=bindparam("reason")),
        [{"d": f.delivery_id, "since": f.since, "reason": f.reason} for f in flags],
    )
    note_changed(target, [f.bulletin_id for f in flags])


def delete_events(target: Target, where: ColumnElement[bool]) -> int:
    """Delete the events matching ``where``; returns how many."""
    touched = target.execute(select(col(Event.bulletin_id)).where(where).distinct()).scalars()
    note_changed(target, list(touched))
    return int(target.execute(delete(Event).where(where)).rowcount)  # type: ignore[attr-defined]


def clear_payloads(target: Target, where: ColumnElement[bool]) -> None:
    """Forget the raw provider payloads of the events matching ``where`` (erasure).

    No report number comes from a payload, so the report version stays as it is.
    """
    target.execute(update(Event).where(where).values(payload=None))


# SQLite's bound-variable limit (32766 since 3.32; 999 before).
_SQLITE_VARIABLES = 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999


@lru_cache(maxsize=4)
def _column_plan(dialect: Dialect) -> tuple[list[str], list[Callable[[Any], Any] | None]]:
    """The event columns (all but id) and each one's bind processor on ``dialect``."""
    columns = [column.name for column in _EVENT.columns if column.name != "id"]
    types = [_EVENT.c[name].type.dialect_impl(dialect) for name in columns]
    return columns, [t.bind_processor(dialect) for t in types]


def _insert_sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The rows as multi-row INSERTs, each column through its own type's bind processor.

    Stores exactly what ``conn.execute(insert(event), rows)`` stores (a test compares them),
    but as one statement per chunk: SQLite's ``executemany`` releases and re-takes the GIL for
    every row, and each hand-over costs the tracking server's event loop a thread switch on a
    busy machine (bench/tracking measured ~15 us of server CPU per click).
    """
    columns, processors = _column_plan(conn.dialect)
    head = "INSERT INTO event (" + ", ".join(columns) + ") VALUES "  # noqa: S608 -- see below
    one = "(" + ", ".join("?" * len(columns)) + ")"
    per_statement = _SQLITE_VARIABLES // len(columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values: list[Any] = []
        for row in chunk:
            values.extend(
                row[name] if process is None else process(row[name])
                for name, process in zip(columns, processors, strict=True)
            )
        # Only our own column names and ? placeholders: no value is ever spliced in.
        conn.exec_driver_sql(head + ", ".join([one] * len(chunk)), tuple(values))


def _copy_postgresql(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """The rows by ``COPY event FROM STDIN`` in ``conn``'s transaction (psycopg 3).

    Stores exactly what ``conn.execute(insert(event), rows)`` stores (a test compares them):
    each value goes through its column type's bind processor first. An executemany costs the
    recorder's thread about 40 us of CPU a row on psycopg (its pipeline sends a statement per
    row); COPY about half that, and the GIL it holds is the web worker's. A database error is
    raised as SQLAlchemy's (IntegrityError, OperationalError...), as an execute would.
    """
    columns, processors = _column_plan(conn.dialect)
    statement = "COPY event (" + ", ".join(columns) + ") FROM STDIN"
    raw: Any = conn.connection.dbapi_connection
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[name] if process is None else process(row[name])
                        for name, process in zip(columns, processors, strict=True)
                    ]
                )
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc
