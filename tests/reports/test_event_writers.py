"""Every code path that writes events tells the report cache (a convention the cache relies on).

The report cache recomputes a bulletin only when its events version moves, so a writer of the
``event`` table (or of the roll-up tables the reports also read) that forgot
``note_events_changed`` would leave reports silently stale. This test reads the service's source
and finds every such write: an ``Event(...)`` row, an INSERT/UPDATE/DELETE built on the event
tables (directly or through a name bound to their ``__table__``), or raw SQL naming the event
table. The function holding the write must call ``note_events_changed``, or every function of
the same module that calls it must. Exceptions are listed with the reason they cannot change a
report number.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLES = {"Event", "EventRollup", "MachineReasonRollup"}
BUILDERS = {"insert", "update", "delete", "dialect_insert", "pg_insert", "sqlite_insert"}
RAW_SQL = re.compile(r"\b(insert\s+into|update|delete\s+from)\s+\"?event\b", re.IGNORECASE)
NOTE = "note_events_changed"

# (module, function): why the write cannot change a number any report shows.
EXCEPTIONS = {
    ("newsletter/subscribers/changes.py", "erase"): "clears provider payloads only",
}
# Writers that exist today: the scan must find them (so it cannot pass by finding nothing).
KNOWN = {
    ("newsletter/assemble/build.py", "_clear_for_rebuild"),
    ("newsletter/reports/rollup.py", "roll_up_events"),
    ("newsletter/subscribers/changes.py", "unsubscribe"),
}


def _models(tree: ast.Module) -> set[str]:
    """The event models this module imports from newsletter.models (not threading.Event)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("newsletter.models")
        for alias in node.names
        if alias.name in TABLES
    }


def _table_aliases(tree: ast.Module) -> set[str]:
    """The event models imported, and names bound to their ``__table__``
    (e.g. ``_EVENT = Event.__table__``)."""
    models = _models(tree)
    names = set(models)
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if (
            isinstance(value, ast.Attribute)
            and value.attr == "__table__"
            and isinstance(value.value, ast.Name)
            and value.value.id in models
        ):
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _names_table(node: ast.expr, tables: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in tables
    if isinstance(node, ast.Attribute) and node.attr == "__table__":
        return _names_table(node.value, tables)
    return False


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _writes(function: ast.AST, tables: set[str]) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            name = _called(node)
            if isinstance(node.func, ast.Name) and node.func.id in tables:
                return True  # a new row: Event(...)
            if name in BUILDERS and any(_names_table(a, tables) for a in node.args):
                return True
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and RAW_SQL.search(node.value)
        ):
            return True
    return False


def _calls(function: ast.AST) -> set[str]:
    return {n for node in ast.walk(function) if isinstance(node, ast.Call) if (n := _called(node))}


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _check(module: str, tree: ast.Module) -> tuple[set[tuple[str, str]], list[str]]:
    """The writers of events in one module, and those that do not note their change."""
    writers: set[tuple[str, str]] = set()
    problems: list[str] = []
    tables = _table_aliases(tree)
    functions = _functions(tree)
    calls = {name: _calls(f) for name, f in functions.items()}
    for name, function in functions.items():
        if not _writes(function, tables):
            continue
        writers.add((module, name))
        if NOTE in calls[name] or (module, name) in EXCEPTIONS:
            continue
        callers = [c for c, called in calls.items() if name in called and c != name]
        if callers and all(NOTE in calls[c] for c in callers):
            continue
        line = getattr(function, "lineno", 0)
        problems.append(f"{module}:{line} {name}() writes events without {NOTE}")
    return writers, problems


def _scan() -> tuple[set[tuple[str, str]], list[str]]:
    writers: set[tuple[str, str]] = set()
    problems: list[str] = []
    for path in sorted((ROOT / "newsletter").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        found, wrong = _check(module, ast.parse(path.read_text(encoding="utf-8")))
        writers |= found
        problems += wrong
    return writers, problems


def test_every_writer_of_events_notes_the_change_for_the_report_cache() -> None:
    writers, problems = _scan()
    assert writers >= KNOWN, f"the scan missed known writers: {sorted(KNOWN - writers)}"
    assert problems == []


def test_the_scan_catches_a_writer_that_forgets() -> None:
    source = (
        "from newsletter.models import Event\n"
        "_EVENT = Event.__table__\n"
        "def record(conn, rows):\n"
        "    conn.execute(insert(_EVENT), rows)\n"
        "def _flag(session):\n"
        "    session.execute(update(Event).values(machine=True))\n"
        "def flag(session):\n"
        "    _flag(session)\n"
        "    note_events_changed(session, [1])\n"
        "def raw(conn):\n"
        "    conn.exec_driver_sql('DELETE FROM event WHERE id = 1')\n"
        "def add(session):\n"
        "    session.add(Event(type='open'))\n"
        "    note_events_changed(session, [1])\n"
    )
    writers, problems = _check("m.py", ast.parse(source))
    assert {name for _m, name in writers} == {"record", "_flag", "raw", "add"}
    assert [p.split()[1] for p in problems] == ["record()", "raw()"]
    other = "from threading import Event\ndef stop():\n    Event().set()\n"
    assert _check("t.py", ast.parse(other)) == (set(), [])
