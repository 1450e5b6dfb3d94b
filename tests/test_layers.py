"""The packages' import direction: ``subscribers`` is the lower layer, and no import cycle joins ``digest``'s
top-level packages and modules (``digest.web``, ``digest.delivery``, ``digest.edition`` ...) or them and
``subscribers``. Read from the source, so an import inside a function counts too."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the lower layer may take from digest: its error tree (one exception hierarchy for the whole program).
SUBSCRIBERS_MAY_IMPORT = {"digest.errors"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("digest", "subscribers"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in ("digest", "subscribers")}


def _unit(module: str) -> str:
    """The layer unit a module belongs to: ``subscribers``, or digest's top-level package or module."""
    parts = module.split(".")
    return "subscribers" if parts[0] == "subscribers" else ".".join(parts[:2])


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for name in _imports(path):
            target = name if name in modules else name.rpartition(".")[0]
            if target in modules and _unit(target) != _unit(module):
                graph[_unit(module)].add(_unit(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_subscribers_imports_nothing_from_digest_but_its_errors() -> None:
    modules = _modules()
    taken = {
        (module, name)
        for module, path in modules.items()
        if module.startswith("subscribers")
        for name in _imports(path)
        if name.startswith("digest") and not any(name == a or name.startswith(a + ".") for a in SUBSCRIBERS_MAY_IMPORT)
    }
    assert taken == set()


def test_no_import_cycle_between_top_level_packages() -> None:
    assert _cycle(_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}}) is None
