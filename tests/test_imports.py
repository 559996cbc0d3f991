"""The modules of qtasks import each other without a cycle, as ARCHITECTURE.md orders them."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import qtasks

PACKAGE = Path(qtasks.__file__).parent


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(path: Path) -> set[str]:
    """Return the qtasks modules `path` imports when it runs (at import time or in a function)."""
    found: set[str] = set()
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"))]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("qtasks."):
            found.add((node.module or "").split(".")[1])
        todo.extend(ast.iter_child_nodes(node))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    return {name: _runtime_imports(path) & set(modules) for name, path in modules.items()}


def test_no_module_imports_another_that_imports_it_back() -> None:
    """The runtime imports between qtasks modules form no cycle, however indirect."""
    graph = _graph()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        raise AssertionError(f"import cycle in qtasks: {error.args[1]}") from None
    assert sorted(graph) == sorted(order)
