"""Each package's public surface is its ``__all__``, and the layers on top use only that.

As httpx keeps ``__all__`` complete (tests/test_exported_members.py there): every public name a
package's ``__init__`` binds is listed, and every listed name exists. ``cli/`` and ``web/`` then
import the other areas only through those names (``from newsletter.dispatch import
send_bulletin``, never ``from newsletter.dispatch.batches import ...``), so a package can
rearrange its modules without breaking the layers above it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import newsletter

PACKAGE_DIR = Path(newsletter.__file__).parent
PACKAGES = sorted(info.name for info in pkgutil.iter_modules([str(PACKAGE_DIR)]) if info.ispkg)
ON_TOP = ("cli", "web")


def _public_names(package: types.ModuleType) -> set[str]:
    """Names the package's ``__init__`` binds for its users: not private, not its submodules,
    not ``from __future__`` features, not helpers imported from outside the package."""
    names = set()
    for name, value in vars(package).items():
        if name.startswith("_") or name == "annotations" or isinstance(value, types.ModuleType):
            continue
        home = getattr(value, "__module__", None)
        if isinstance(home, str) and not home.startswith(package.__name__):
            continue
        names.add(name)
    return names


def test_the_packages_are_found() -> None:
    assert {"cli", "dispatch", "plan", "reports", "schedule", "tracking", "web"} <= set(PACKAGES)


@pytest.mark.parametrize("name", PACKAGES)
def test_each_packages_all_lists_exactly_its_public_names(name: str) -> None:
    package = importlib.import_module(f"newsletter.{name}")
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"newsletter.{name} has no __all__"
    assert len(exported) == len(set(exported)), f"newsletter.{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(package, n)]
    assert not missing, f"newsletter.{name}.__all__ lists names it does not have: {missing}"
    unlisted = sorted(_public_names(package) - set(exported))
    assert not unlisted, f"newsletter.{name} binds public names missing from __all__: {unlisted}"


def _violations(folder: Path, layer: str) -> list[str]:
    """Imports in ``folder`` (``newsletter/<layer>/``) that reach past another package's
    ``__all__``."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules, names = [node.module], [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [a.name for a in node.names], []
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] != "newsletter" or len(parts) < 2 or parts[1] in (layer, *ON_TOP):
                    continue
                if parts[1] not in PACKAGES:
                    continue  # a plain module (config, db, clock...): its names are its surface
                where = f"{layer}/{path.relative_to(folder)}:{node.lineno}"
                if len(parts) > 2:
                    found.append(f"{where}: imports {module} (use newsletter.{parts[1]})")
                    continue
                exported = set(importlib.import_module(module).__all__)
                found += [
                    f"{where}: {module}.{n} is not in its __all__"
                    for n in names
                    if n not in exported
                ]
    return found


@pytest.mark.parametrize("layer", ON_TOP)
def test_cli_and_web_import_the_other_packages_only_through_their_all(layer: str) -> None:
    assert _violations(PACKAGE_DIR / layer, layer) == []


def test_the_import_check_finds_a_reach_past_all(tmp_path: Path) -> None:
    # The check itself on a tiny tree, so that it cannot pass by finding nothing.
    (tmp_path / "probe.py").write_text(
        "from newsletter.dispatch.ledger import snapshot\n"
        "from newsletter.dispatch import nope, send_bulletin\n"
        "from newsletter.config import Settings\n"
    )
    found = _violations(tmp_path, "cli")
    assert len(found) == 2
    assert any("imports newsletter.dispatch.ledger" in v for v in found)
    assert any("newsletter.dispatch.nope is not in its __all__" in v for v in found)
