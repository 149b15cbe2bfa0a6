"""The architecture's rules, checked on the code (docs/architecture.md): layers, no cycles, small modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mluv", "workers")
# A module longer than this says in its docstring why it must be one file.
MAX_LINES = 450
REASON_MARKER = "One file because"


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """The import cycles of a graph: its strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize(
    ("edges", "cycles"),
    [
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [{"a", "b"}]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [{"a", "b", "c"}]),
        ({"a": {"a"}}, []),
    ],
)
def test_strongly_connected_finds_cycles(edges: dict[str, set[str]], cycles: list[set[str]]) -> None:
    assert strongly_connected(edges) == cycles


def test_no_import_cycle_between_any_modules() -> None:
    # TYPE_CHECKING imports count too: a cycle that exists only for the type checker is still a cycle.
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    assert strongly_connected(edges) == []


def test_import_contracts_are_kept() -> None:
    """pyproject.toml's [tool.importlinter] contracts, checked as CI does (import-linter in .mluv/lint)."""
    result = subprocess.run(
        [sys.executable, "-m", "mluv.bootstrap", "lint-imports", "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_a_module_is_small_or_says_why_not(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines <= MAX_LINES:
        return
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert REASON_MARKER in docstring, (
        f"{path.relative_to(ROOT)} has {lines} lines (> {MAX_LINES}): split it, or say in its docstring "
        f"'{REASON_MARKER} ...'"
    )
