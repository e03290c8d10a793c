"""The layers hold: the shared layer imports nothing of ours, device packages import only
the shared layer, the scheduler no device package, and no module imports itself round
about (imports inside functions count: they hide a cycle, they do not break it)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OURS = ("hallbus", "scheduler", "kiosk", "id_reader", "counter_terminal", "display_wall")
OURS += ("simulator", "paidui", "firmware_profiles", "udev_rules", "broker_config")
DEVICES = ("kiosk", "id_reader", "counter_terminal", "display_wall")
# What each layer may import of ours besides itself.
ALLOWED = {
    "hallbus": set(),
    **{device: {"hallbus"} for device in DEVICES},
    "scheduler": {"hallbus"},
}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in OURS}


def _graph() -> dict[str, set[str]]:
    files = [p for package in OURS for p in (REPO / package).rglob("*.py")]
    modules = {_module(p): p for p in files}
    graph = {}
    for name, path in modules.items():
        # "from a.b import c" names module a.b.c if there is one, else a.b.
        graph[name] = {i for i in _imports(path) if i in modules} - {name}
    return graph


def test_each_layer_imports_only_what_is_below_it() -> None:
    wrong = []
    for module, imported in _graph().items():
        layer = module.split(".")[0]
        if layer not in ALLOWED:
            continue
        for target in imported:
            other = target.split(".")[0]
            if other != layer and other not in ALLOWED[layer]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_module_imports_itself_round_about() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []
