"""The dependency direction is one way: nothing imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Each package, and the project packages it must never import (directly or lazily).
FORBIDDEN = {
    "core": {"persistence", "tools", "graph", "wiring", "server", "cli", "evals"},
    "persistence": {"tools", "graph", "wiring", "server", "cli", "evals"},
    "tools": {"graph", "wiring", "server", "cli", "evals"},
    "graph": {"wiring", "server", "cli", "evals", "moltpe_sandbox"},
    "wiring": {"server", "cli", "evals"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_upward(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {sorted(imported_packages(path) & FORBIDDEN[package])}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported_packages(path) & FORBIDDEN[package]
    ]
    assert not offenders, "\n".join(offenders)


def imported_modules(path: Path) -> set[str]:
    """Full dotted names of every module ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_nothing_outside_graph_reaches_into_the_nodes() -> None:
    """Snapshots, facts and texts live in graph.facts; the nodes are the graph's own."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("core", "persistence", "tools", "wiring", "server", "cli", "evals")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "graph.nodes" in imported_modules(path)
    ]
    assert not offenders


def test_no_test_module_imports_another() -> None:
    """What tests share lives in tests/helpers (or a fixtures module), not in a test module."""
    tests = ROOT / "tests"
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted(tests.rglob("*.py"))
        for module in sorted(imported_modules(path))
        if module.startswith("tests.") and module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert not offenders, "\n".join(offenders)


def test_tests_are_named_after_behaviour() -> None:
    """A test file says what it pins, not when or how the defect was found."""
    words = ("finding", "review_findings", "regression", "bugfix", "issue_")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        if any(word in path.stem for word in words)
    ]
    assert not offenders
