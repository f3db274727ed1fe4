"""The imports of edge_agent/, server_stub/ and tools/ run downward (docs/architecture.md):
no cycle, counting imports inside functions and under TYPE_CHECKING too, and the layer rules
(the rules core imports nothing from the service or the CLI; the agent's library modules
nothing from the service; the center only the agent's library modules)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge_agent", "server_stub", "tools")
SERVICE = ("edge_agent.service", "edge_agent.cli", "edge_agent.__main__")
# (who, what they must not import): prefixes of dotted module names
RULES = [
    ("edge_agent.rules", SERVICE),
    ("edge_agent.wire", SERVICE),
    ("server_stub", SERVICE),
]
# The agent's library modules: everything of edge_agent but the service and its CLI.
LIBRARY_EXCEPT = (*SERVICE, "edge_agent.deploy")
# The bottom layer imports only itself and the hall file's data classes.
BOTTOM = ("edge_agent.rules", "edge_agent.wire")
CONFIG = ("edge_agent.config", "edge_agent.service_config", "edge_agent.toml_fields")


def modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, node: ast.Import | ast.ImportFrom, is_package: bool,
              known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        # `from pkg import mod` imports the module; `from mod import name`, the module.
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the project's modules it imports, at any depth of its code."""
    known = modules(root, packages)
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                targets.update(_imported(module, node, path.name == "__init__.py", known))
        graph[module] = {t for t in targets if t in known and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_breaches(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        for who, banned in RULES:
            if _under(module, who):
                out += [f"{module} imports {t}" for t in sorted(targets)
                        if any(_under(t, b) for b in banned)]
        if any(_under(module, b) for b in BOTTOM):
            out += [f"{module} (the rules core or the codec) imports {t}" for t in sorted(targets)
                    if not any(_under(t, ok) for ok in (*BOTTOM, *CONFIG))]
        library = _under(module, "edge_agent") and not any(
            _under(module, p) for p in LIBRARY_EXCEPT)
        if library:
            out += [f"{module} (a library module) imports {t}" for t in sorted(targets)
                    if any(_under(t, b) for b in SERVICE)]
    return out


GRAPH = import_graph(ROOT, PACKAGES)


def test_the_walk_sees_the_project() -> None:
    assert len(GRAPH) > 100
    assert "edge_agent.journal" in GRAPH["edge_agent.service.core"]
    # an import inside a function counts (cli.py imports hall_state only for `record`)
    assert "edge_agent.hall_state" in GRAPH["edge_agent.cli"]


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_layers() -> None:
    assert layer_breaches(GRAPH) == []


def _plant(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return import_graph(tmp_path, ("edge_agent", "server_stub"))


def test_a_planted_cycle_is_found_even_inside_a_function(tmp_path: Path) -> None:
    graph = _plant(tmp_path, {
        "edge_agent/__init__.py": "",
        "edge_agent/a.py": "from edge_agent.b import x\n",
        "edge_agent/b.py": "def f():\n    from . import a\n",
        "edge_agent/c.py": "import edge_agent.a\n",
        "server_stub/__init__.py": "",
    })
    assert cycles(graph) == [["edge_agent.a", "edge_agent.b"]]


def test_planted_layer_breaches_are_found(tmp_path: Path) -> None:
    graph = _plant(tmp_path, {
        "edge_agent/__init__.py": "",
        "edge_agent/cli.py": "",
        "edge_agent/service/__init__.py": "",
        "edge_agent/service/core.py": "",
        "edge_agent/rules/__init__.py": "",
        "edge_agent/rules/engine.py": "from typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n"
                                      "    from edge_agent.service import core\n",
        "edge_agent/journal.py": "def f():\n    import edge_agent.cli\n",
        "edge_agent/config.py": "",
        "edge_agent/rules/calendar.py": "from edge_agent.config import x\n"
                                        "from edge_agent import journal\n",
        "server_stub/__init__.py": "",
        "server_stub/app.py": "from edge_agent.journal import f\n",
        "server_stub/reports.py": "from edge_agent.cli import deduction_text\n",
    })
    assert layer_breaches(graph) == [
        "edge_agent.journal (a library module) imports edge_agent.cli",
        "edge_agent.rules.calendar (the rules core or the codec) imports edge_agent.journal",
        "edge_agent.rules.engine imports edge_agent.service.core",
        "edge_agent.rules.engine (the rules core or the codec) imports edge_agent.service.core",
        "edge_agent.rules.engine (a library module) imports edge_agent.service.core",
        "server_stub.reports imports edge_agent.cli",
    ]


@pytest.mark.parametrize("module", ["edge_agent.toml_fields", "edge_agent.records",
                                    "edge_agent.report_text"])
def test_the_shared_library_modules_stand_below_the_service(module: str) -> None:
    assert not any(_under(t, "edge_agent.service") for t in GRAPH[module])
