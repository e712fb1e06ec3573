"""The import graph: no cycles, no private names across modules, every module imports alone.

A cycle between modules works only for some import orders, and a private name imported
from another module is a hidden interface; both made ``graphs/`` hard to change (the CLI
modules once imported each other's private helpers). The graph is read from the source
with :mod:`ast`: imports at module level and inside functions count (a lazy import is
still a dependency); imports under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "constitution", "knowledge", "graphs")
# Packages whose modules import no private name from another module. The rest join once
# their last private import is gone (constitution/reload.py imports checker._Run).
NO_PRIVATE_IMPORTS = ("graphs", "knowledge")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in PACKAGES:
        for path in sorted((REPO / top).rglob("*.py")):
            parts = list(path.relative_to(REPO / top).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(["ponder", top, *parts])] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_imports(node)


def _dependencies(name: str) -> dict[str, ast.Import | ast.ImportFrom]:
    """The Ponder modules ``name`` imports, each with the statement that imports it."""
    tree = ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))
    found: dict[str, ast.Import | ast.ImportFrom] = {}
    for node in _runtime_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif node.module is None or node.level:
            continue
        else:  # `from pkg import mod` imports the submodule; `from mod import name`, mod
            targets = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names
            ]
        for target in targets:
            if target in MODULES and target != name:
                found.setdefault(target, node)
    return found


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle through ``start``, as a path that ends where it began, or ``None``."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    """The cycle starting at its smallest module, so each cycle is listed once."""
    ring = cycle[:-1]
    start = ring.index(min(ring))
    return (*ring[start:], *ring[:start], ring[start])


def test_the_packages_have_no_import_cycles() -> None:
    graph = {name: set(_dependencies(name)) for name in MODULES}

    cycles = {_canonical(c) for name in graph if (c := _cycle_from(name, graph)) is not None}

    assert not cycles, "import cycles (break one edge, or move the shared name):\n" + "\n".join(
        " -> ".join(cycle) for cycle in sorted(cycles)
    )


@pytest.mark.parametrize("package", NO_PRIVATE_IMPORTS)
def test_no_module_imports_a_private_name_from_another(package: str) -> None:
    leaks = []
    for name, path in MODULES.items():
        if not name.startswith(f"ponder.{package}"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ponder."):
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private:
                    where = path.relative_to(REPO)
                    leaks.append(f"{where}:{node.lineno}: {node.module} {', '.join(private)}")

    assert not leaks, "make the name public in one module, or keep it in one:\n" + "\n".join(leaks)


def test_every_graphs_module_imports_on_its_own() -> None:
    # One interpreter; before each module every ponder module is forgotten, so each one is
    # imported first, as a user's `import ponder.graphs.x` would (third-party stays cached).
    names = [name for name in MODULES if name.startswith("ponder.graphs")]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('ponder.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {type(exc).__name__}: {exc}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "", f"modules that fail to import first:\n{result.stdout}"
