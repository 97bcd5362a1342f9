"""Dependencies point inward: the core imports no I/O, no storage, no connectors; no import circles;
the application knows connectors by name only."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from runstrong_sync.sources import connector_names
from tests.support import ROOT

CORE_PACKAGE = "runstrong_sync.core"
CORE = sorted(p.stem for p in (ROOT / "runstrong_sync" / "core").glob("*.py") if p.stem != "__init__")
PACKAGES = {"runstrong_sync": ROOT / "runstrong_sync", "runstrong_sync.connectors": ROOT / "connectors"}
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


def _core_path(module: str) -> Path:
    return ROOT.joinpath(*CORE_PACKAGE.split("."), f"{module}.py")


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_only_pure_code(module: str) -> None:
    for name in _imports(_core_path(module)):
        top = name.split(".")[0]
        if top == "runstrong_sync":
            assert name == CORE_PACKAGE or name.startswith(CORE_PACKAGE + "."), f"{module} imports {name}"
            assert name == CORE_PACKAGE or name.removeprefix(CORE_PACKAGE + ".") in CORE, (
                f"{module} imports {name}"
            )
        else:
            assert top in ALLOWED_STDLIB, f"{module} imports {name}"


def test_core_loads_without_io_modules() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {CORE_PACKAGE}.{m}\n" for m in CORE)
        + "io = ('connectors', 'runstrong_sync.connectors', 'sqlalchemy', 'requests', 'icalendar',"
        " 'runstrong_sync.storage', 'runstrong_sync.feed', 'runstrong_sync.server', 'runstrong_sync.cli')\n"
        "bad = [m for m in sys.modules if m.startswith(io)]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_connectors_are_found_by_name() -> None:
    assert {"fit", "strava"} <= set(connector_names())


def _modules() -> dict[str, Path]:
    """Every module of the application and the connectors, by its import name."""
    found: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _edges(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules ``name`` imports when it runs (anywhere in it, functions too; not the imports
    under ``if TYPE_CHECKING:``, which never run)."""
    found: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names if alias.name in known)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join([*package[: len(package) - child.level + 1], *filter(None, [base])])
                for alias in child.names:
                    if f"{base}.{alias.name}" in known:
                        found.add(f"{base}.{alias.name}")
                    elif base in known:
                        found.add(base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return circles


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {name: _edges(name, path, set(modules)) for name, path in modules.items()}
    assert _circles(graph) == []


def test_circle_check_finds_a_circle() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_application_knows_connectors_by_name_only() -> None:
    """Only the entry points in pyproject.toml name connector modules; the application never does."""
    modules = _modules()
    connectors = {name for name in modules if name.split(".")[0] == "connectors"}
    connectors |= {name for name in modules if ".connectors" in name}
    for name, path in modules.items():
        if name in connectors:
            continue
        imported = _imports(path)
        assert not {m for m in imported if m == "connectors" or m.startswith("connectors.")}, name
        assert not {m for m in imported if ".connectors" in m}, name


def test_every_core_module_is_checked() -> None:
    """A module that imports nothing of I/O belongs to the core list (or says why not here)."""
    assert all(_core_path(module).is_file() for module in CORE)


def test_every_package_folder_is_installed() -> None:
    """Once pyproject.toml lists the packages (setuptools' find() cannot see connectors/ mapped to
    runstrong_sync.connectors), a new package folder must be listed too, or installs miss it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["setuptools"].get("packages")
    if not isinstance(listed, list):
        pytest.skip("setuptools finds the packages itself")
    folders = {
        ".".join([package, *init.parent.relative_to(folder).parts])
        for package, folder in PACKAGES.items()
        for init in folder.rglob("__init__.py")
    }
    assert folders == set(listed)
