"""The import graph of ``fleet``: imports point one way (the sans-IO core, the network,
the actors, control, the run machinery, then the user interfaces) and nothing imports in a
circle, function-level imports included: a function-level import is not a way around a
cycle (only imports under ``if TYPE_CHECKING:`` are left out)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fleet"

#: The layers from the bottom: a module imports from its own layer and the ones below.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("fleet", "fleet.ocpp", "fleet.exit_codes", "fleet.metrics"),
    ("fleet.net",),
    ("fleet.profiles", "fleet.malformed", "fleet.faults"),
    ("fleet.actors",),
    ("fleet.control",),
    ("fleet.run",),
    ("fleet.tui", "fleet.chaos", "fleet.benchmarks", "fleet.commands", "fleet.cli", "fleet.program", "fleet.__main__"),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of the longest prefix naming ``module``."""
    matches = [(len(prefix), i) for i, prefixes in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer of LAYERS"
    return max(matches)[1]


def imports_of(module: str) -> set[str]:
    """The fleet modules ``module`` imports anywhere in its code, except under TYPE_CHECKING."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "fleet")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level > 1 else base
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "fleet":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    return {m for m in found if m != module and m in MODULES}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_imports_point_down_the_layers() -> None:
    upward = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets
                    if layer_of(t) > layer_of(m))
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            connect(module)
    return found


def test_no_module_imports_itself_in_a_circle() -> None:
    cycles = cycles_in(GRAPH)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles_in({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles_in({"a": {"b"}, "b": set()}) == []


def test_the_layers_cover_every_module_and_the_check_sees_imports() -> None:
    for module in MODULES:
        layer_of(module)
    # The check itself sees imports, relative and function-level, and ranks them.
    assert "fleet.ocpp.frames" in GRAPH["fleet.ocpp.session"]
    assert "fleet.run.report" in GRAPH["fleet.run.supervisor"]
    assert layer_of("fleet.faults") < layer_of("fleet.actors.station.actor") < layer_of("fleet.control.server")
    assert layer_of("fleet.net.transport") < layer_of("fleet.actors.csms.actor") < layer_of("fleet.run.worker")
