"""Dependencies point inward: the core imports no I/O, no storage, no connectors."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from conftest import ROOT

CORE = ["domain", "classify", "plan", "derive", "exercises", "zones", "text"]
ALLOWED_STDLIB = {
    "__future__",
    "bisect",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "itertools",
    "math",
    "statistics",
    "typing",
    "zoneinfo",
    "functools",
    "re",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_only_pure_code(module: str) -> None:
    for name in _imports(ROOT / "runstrong_sync" / f"{module}.py"):
        top = name.split(".")[0]
        if top == "runstrong_sync":
            assert name.split(".")[1] in CORE, f"{module} imports {name}"
        else:
            assert top in ALLOWED_STDLIB, f"{module} imports {name}"


def test_core_loads_without_io_modules() -> None:
    code = (
        "import sys\n"
        + "".join(f"import runstrong_sync.{m}\n" for m in CORE)
        + "io = ('connectors', 'sqlalchemy', 'requests', 'icalendar', 'runstrong_sync.storage',"
        " 'runstrong_sync.feed', 'runstrong_sync.server', 'runstrong_sync.cli')\n"
        "bad = [m for m in sys.modules if m.startswith(io)]\n"
        "assert not bad, bad\n"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_connectors_are_found_by_name() -> None:
    from runstrong_sync.sources import connector_names

    assert "fit" in connector_names()
