"""Upgrading a database made by the release before this round (migration head 0003).

The old database is made and filled by the old code itself (its tree taken from git at
BEFORE), then upgraded by this code's `newsletter init` to whatever head is current: every
row of every old table is still there, unchanged in its old columns, and the reports give the
same figures as the old code gave. On SQLite and on PostgreSQL (in a schema of its own).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from newsletter.db import head_revision, make_engine
from tests.conftest import IN_CI, REPO, TEST_SECRET

BEFORE = "43a6b02"  # main when this round started: migration head 0003
FILL = Path(__file__).with_name("upgrade_fill.py")
# Caches derived from the other tables: a migration may drop them to have them recomputed.
DERIVED = {"report_cache", "report_cache_reason", "report_cache_state"}
REPORTS = [
    ["report", "bulletin", "2026-07", "--format", "json"],
    ["report", "training", "--from", "2026-01", "--to", "2026-12", "--format", "json"],
]


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The code of BEFORE, extracted from git."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        if IN_CI:
            pytest.fail("the upgrade test needs git and the repository's history")
        pytest.skip("the upgrade test needs git and the repository's history")
    archive = subprocess.run(
        [git, "-C", str(REPO), "archive", "--format=tar", BEFORE],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    tree = tmp_path_factory.mktemp("before")
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


@pytest.fixture
def old_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database for the old code: a new SQLite file, or a PostgreSQL schema."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    schema = f"upgrade_{uuid.uuid4().hex[:8]}"
    admin = make_engine(database_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(code: Path, url: str, data_dir: Path, *args: str) -> str:
    """Run ``args`` (a python -c program, a script or a CLI) with the code in ``code``.

    The configuration (plan, agencies, templates) is the old tree's in both runs: an upgrade
    changes the code, not the operator's configuration.
    """
    config = data_dir.parent / "before-config"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
        "PYTHONPATH": str(code),
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_DATA_DIR": str(data_dir),
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "NEWSLETTER_PLAN_DIR": str(config / "campaigns"),
        "NEWSLETTER_SUBSCRIBERS_DIR": str(config / "subscribers"),
        "NEWSLETTER_TEMPLATES_DIR": str(config / "templates"),
        "NEWSLETTER_REPORT_MIN_COUNT": "0",  # every figure as a number, none hidden as "<5"
    }
    done = subprocess.run(
        [sys.executable, *args],
        cwd=code,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done.stdout


def cli(code: Path, url: str, data_dir: Path, *args: str) -> str:
    return run(code, url, data_dir, "-c", "from newsletter.cli import main; main()", *args)


def figures(code: Path, url: str, data_dir: Path) -> dict[str, float]:
    """Every number in the reports' JSON, by where it is: the reports' format may change from
    one release to the next (wording, added fields); their figures must not."""
    found: dict[str, float] = {}
    for args in REPORTS:
        _numbers(json.loads(cli(code, url, data_dir, *args)), " ".join(args[:2]), found)
    return found


_KEYS = ("agency", "catalogue_id", "course", "item", "link_id", "month", "kind", "title", "reason")


def _numbers(node: Any, path: str, found: dict[str, float]) -> None:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        found[path] = node
    elif isinstance(node, dict):
        for key, value in node.items():
            _numbers(value, f"{path}.{key}", found)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            label = str(i)
            if isinstance(item, dict):
                named = [
                    f"{k}={item[k]}"
                    for k in _KEYS
                    if k in item and not isinstance(item[k], dict | list)
                ]
                label = ",".join(named) or label
            _numbers(item, f"{path}[{label}]", found)


def test_a_database_of_the_previous_release_upgrades_with_every_row_and_the_same_figures(
    old_tree: Path, old_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    for folder in ("campaigns", "subscribers", "templates"):
        shutil.copytree(old_tree / folder, tmp_path / "before-config" / folder)
    run(old_tree, old_url, data, str(FILL), old_url, "fill")
    before_rows: dict[str, list[Any]] = json.loads(
        run(old_tree, old_url, data, str(FILL), old_url, "dump")
    )
    before_figures = figures(old_tree, old_url, data)
    assert before_rows["event"]
    assert before_rows["event_rollup"]
    assert before_rows["report_cache"]

    out = cli(REPO, old_url, data, "init")
    assert f"to {head_revision()}" in out or f"at {head_revision()}" in out

    old_tables = [t for t in before_rows if not t.endswith(":columns")]
    after_rows = json.loads(
        run(REPO, old_url, data, str(FILL), old_url, "dump", json.dumps(old_tables))
    )
    for table in old_tables:
        if table in DERIVED:
            continue  # recomputed from the rows below; the figures are compared at the end
        if f"{table}:columns" not in after_rows:
            assert before_rows[table] == [], f"{table} was dropped with its rows"
            continue
        old_columns = before_rows[f"{table}:columns"][0]
        new_columns = after_rows[f"{table}:columns"][0]
        assert set(old_columns) <= set(new_columns), f"{table} lost a column"
        keep = [new_columns.index(c) for c in old_columns]
        projected = sorted(json.dumps([json.loads(r)[i] for i in keep]) for r in after_rows[table])
        assert projected == before_rows[table], f"{table}: rows changed by the upgrade"
    after_figures = figures(REPO, old_url, data)
    common = sorted(set(before_figures) & set(after_figures))
    assert len(common) >= 50, f"too few figures in common to compare: {common}"
    changed = {
        k: (before_figures[k], after_figures[k])
        for k in common
        if before_figures[k] != after_figures[k]
    }
    assert changed == {}
