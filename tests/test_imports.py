"""The server's import graph: no cycles, and the lower layers never import the upper ones.

Read from the source with ``ast`` (function-level imports included, ``if TYPE_CHECKING:`` blocks
left out: they name types and run nothing), so nothing is imported. ``store/`` is persistence: it
imports only itself and never Flask. ``engine/`` is the pure story engine: it imports itself, the
store and the error tree, never HTTP or a feature package, and nothing it reaches imports Flask
(docs/ARCHITECTURE.md).
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "widget_server"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules ``name`` imports: package modules by full name, others by top-level name."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # ``from . import db`` names a module, ``from .db import x`` a name
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {module if module.startswith(PACKAGE) else module.split(".")[0] for module in found}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    nodes: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and _names_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return nodes


def _names_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module the modules of package ``start`` import, directly or through package modules
    (the root package's ``__init__``, which imports the whole app, is where the walk stops)."""
    seen: set[str] = set()
    pending = [name for name in graph if _is_within(name, start)]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in graph and name != PACKAGE:
            pending.extend(graph[name])
    return seen


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: {m for m in _imports(name, path, known) if m != name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of package modules (Tarjan), as import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_package_has_no_import_cycles():
    assert _cycles(_graph()) == []


def test_store_imports_nothing_above_it():
    store = f"{PACKAGE}.store"
    assert store in _modules(), "widget_server/store/ holds persistence"
    upward = {(name, target) for name, targets in _graph().items() if _is_within(name, store)
              for target in targets if target.startswith(PACKAGE) and not _is_within(target, store)}
    assert upward == set()
    assert not _reached(_graph(), store) & {"flask", "werkzeug"}, "the store binds to an app it only names"


def test_engine_is_pure():
    engine, store = f"{PACKAGE}.engine", f"{PACKAGE}.store"
    # The engine's errors are APIErrors, so that every layer answers them in the one JSON body;
    # it times its work in monitoring, which imports only prometheus_client.
    below = (engine, store, f"{PACKAGE}.errors", f"{PACKAGE}.monitoring")
    graph = _graph()
    upward = {(name, target) for name, targets in graph.items() if _is_within(name, engine)
              for target in targets if target.startswith(PACKAGE)
              and not any(_is_within(target, allowed) for allowed in below)}
    assert upward == set()
    assert not _reached(graph, engine) & {"flask", "werkzeug"}, "nothing the engine reaches imports Flask"


def test_the_walk_sees_function_level_imports_and_skips_type_names(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flask import Flask\n"
                      "def f():\n    from .db import x\n")
    assert _imports(f"{PACKAGE}.m", source, {f"{PACKAGE}.db"}) == {f"{PACKAGE}.db", "typing"}


def _documented_layout() -> set[str]:
    """The widget_server/ files and folders docs/ARCHITECTURE.md's layout block names."""
    text = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text()
    block = text.split("## Layout", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    named: set[str] = set()
    stack: list[tuple[int, str]] = []  # (indent, folder)
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        entry = line.strip().split("  ")[0]
        if not entry or not (entry.endswith("/") or ".py" in entry):
            continue  # a description's second line
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix = "".join(folder for _, folder in stack)
        if entry.endswith("/"):
            stack.append((indent, entry))
            named.add(prefix + entry)
        else:
            named.update(prefix + name.strip() for name in entry.split(","))
    return {name[len(f"{PACKAGE}/"):] for name in named if name.startswith(f"{PACKAGE}/") and name != f"{PACKAGE}/"}


def test_the_documented_layout_is_the_tree():
    tree = {path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*.py")}
    tree |= {path.relative_to(ROOT).as_posix() + "/" for path in ROOT.iterdir() if (path / "__init__.py").exists()}
    documented = _documented_layout()
    package_inits = {name for name in tree if name.endswith("/__init__.py")}  # described by their folder's line
    assert documented - tree == set(), "the layout names files that are not there"
    assert tree - package_inits - documented == set(), "files missing from docs/ARCHITECTURE.md's layout"
