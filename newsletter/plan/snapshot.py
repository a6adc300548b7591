"""The plan folder read once into memory: the files the loader checks and the digest covers.

Reading everything first, then checking, means one consistent view of the folder (a file saved
half-way through a check cannot mix old and new), and lets the loader recognise a plan it has
already checked by its digest alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PLAN_FILE = "plan.yaml"
CATALOGUE_DIR = "catalogue"
THEMES_DIR = "themes"
YAML_SUFFIXES = frozenset({".yaml", ".yml"})


@dataclass(frozen=True)
class Snapshot:
    root: Path
    exists: bool  # the plan folder itself
    folders: frozenset[str]  # which of catalogue/ and themes/ exist
    files: Mapping[str, bytes]  # "themes/2026-07.yaml" -> its bytes; only files the plan reads
    digest: str  # SHA-256 over the sorted names and bytes of ``files``


def take_snapshot(plan_dir: Path) -> Snapshot:
    """Read ``plan.yaml``, ``catalogue/*.yaml`` and ``themes/*.yaml`` (``.yml`` too).

    Raises ``OSError`` when a file exists but cannot be read.
    """
    if not plan_dir.is_dir():
        return Snapshot(plan_dir, False, frozenset(), {}, hashlib.sha256().hexdigest())
    names: list[str] = []
    if (plan_dir / PLAN_FILE).is_file():
        names.append(PLAN_FILE)
    folders = set()
    for folder in (CATALOGUE_DIR, THEMES_DIR):
        path = plan_dir / folder
        if path.is_dir():
            folders.add(folder)
            names.extend(
                f"{folder}/{p.name}"
                for p in path.iterdir()
                if p.suffix in YAML_SUFFIXES and p.is_file()
            )
    files = {rel: (plan_dir / rel).read_bytes() for rel in sorted(names)}
    return Snapshot(plan_dir, True, frozenset(folders), files, digest_of(files))


def digest_of(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the sorted names and bytes: the plan hash a bulletin records."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel] + b"\0")
    return digest.hexdigest()


def is_plan_document(rel: str) -> bool:
    """Whether ``rel`` ("themes/2026-07.yaml") names a file the plan reads."""
    if rel == PLAN_FILE:
        return True
    folder, _, name = rel.partition("/")
    return (
        folder in (CATALOGUE_DIR, THEMES_DIR)
        and "/" not in name
        and not name.startswith(".")
        and Path(name).suffix in YAML_SUFFIXES
        and Path(name).stem != ""
    )


def snapshot_of_documents(documents: Mapping[str, str], *, root: Path = Path("")) -> Snapshot:
    """A snapshot of a stored revision's documents (both folders always count as present)."""
    files = {rel: documents[rel].encode("utf-8") for rel in sorted(documents)}
    return Snapshot(root, True, frozenset({CATALOGUE_DIR, THEMES_DIR}), files, digest_of(files))
