"""The station package, fault injection, the malformed-traffic generator and chaos import
one another one way: no cycles, not even through function-level imports (only imports
under ``if TYPE_CHECKING:`` are left out), and fault injection imports no actor or chaos
module. Read from the source (ast), nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import fleet

ROOT = Path(fleet.__file__).parent
SCOPE = ("fleet.actors.station", "fleet.faults", "fleet.malformed", "fleet.chaos")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = ["fleet", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """What ``name`` imports (at any level, TYPE_CHECKING blocks aside), as module names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    # importing a.b.c runs a.b's __init__ first
    for target in list(found):
        parts = target.split(".")
        for n in range(2, len(parts)):
            parent = ".".join(parts[:n])
            if not name.startswith(parent + ".") and parent != name:
                found.add(parent)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {m for m in _imports(name, path, modules) if m.startswith(SCOPE)}
            for name, path in modules.items() if name.startswith(SCOPE)}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                connect(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles_among_station_faults_malformed_and_chaos() -> None:
    graph = _graph()
    assert "fleet.actors.station.actor" in graph and "fleet.faults" in graph
    assert _cycles(graph) == []


def test_fault_injection_and_malformed_traffic_sit_below_the_actors_and_chaos() -> None:
    graph = _graph()
    for low in ("fleet.faults", "fleet.malformed"):
        upward = {m for m in graph[low] if m.startswith(("fleet.actors", "fleet.chaos"))}
        assert upward == set(), f"{low} imports {upward}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
