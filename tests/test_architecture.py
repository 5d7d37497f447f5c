"""The floors of ``stripefleet`` (``docs/architecture.md``): imports only go down.

Read from the source with ``ast`` (nothing is imported):

- no import cycle between modules, nor between the packages that hold them: an import
  from ``a/x.py`` of ``b/y.py`` is an edge between the siblings ``a`` and ``b`` under
  their closest common package, and those edges form no cycle at any level;
- an import inside a function is allowed only with a comment on its line saying why
  (``# lazy: ...``: an optional dependency, or a measured start-up cost).

Alembic's migration scripts are not part of the import graph and are skipped.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import stripefleet

ROOT = Path(stripefleet.__file__).resolve().parent
PACKAGE = "stripefleet"


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package but migrations."""
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent)
        if "migrations" in relative.parts:
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that ``import name`` loads (its longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _imports(module: str) -> list[tuple[str, ast.stmt, bool]]:
    """``(imported module, statement, inside a function)`` for each import of ours."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, ast.stmt, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    target = _resolve(alias.name)
                    if target:
                        found.append((target, child, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    if not is_package:
                        anchor = anchor[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    target = _resolve(f"{base}.{alias.name}") or _resolve(base)
                    if target:
                        found.append((target, child, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _sibling_edge(source: str, target: str) -> tuple[str, str] | None:
    """The edge between the children of the closest package holding both modules."""
    a, b = source.split("."), target.split(".")
    a_is_package = MODULES[source].name == "__init__.py"
    b_is_package = MODULES[target].name == "__init__.py"
    # A package's __init__ is its own child "__init__" for this purpose.
    if a_is_package:
        a = [*a, "__init__"]
    if b_is_package:
        b = [*b, "__init__"]
    common = 0
    while common < min(len(a), len(b)) and a[common] == b[common]:
        common += 1
    if common >= min(len(a), len(b)):
        return None
    parent = ".".join(a[:common])
    return f"{parent}:{a[common]}", f"{parent}:{b[common]}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycle_between_modules_or_packages() -> None:
    """Imports go one way: no cycle between files, nor between the packages holding them."""
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], str] = {}
    for module in MODULES:
        for target, statement, _ in _imports(module):
            edge = _sibling_edge(module, target)
            if edge and edge[0] != edge[1]:
                edges[edge[0]].add(edge[1])
                why.setdefault(edge, f"{module} -> {target} (line {statement.lineno})")
    cycles = _cycles(edges)
    report = []
    for component in cycles:
        members = set(component)
        report.append(" <-> ".join(component))
        report.extend(f"    {text}" for (a, b), text in sorted(why.items())
                      if a in members and b in members)
    assert not cycles, "import cycles:\n" + "\n".join(report)


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function carries ``# lazy: <reason>`` on its line."""
    unexplained = []
    for module, path in MODULES.items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    text = " ".join(lines[inner.lineno - 1: (inner.end_lineno or inner.lineno)])
                    if "# lazy:" not in text:
                        line = lines[inner.lineno - 1].strip()
                        unexplained.append(f"{module}:{inner.lineno}: {line}")
    assert not sorted(set(unexplained)), "imports inside functions without '# lazy: why':\n" + \
        "\n".join(sorted(set(unexplained)))


def test_the_walker_finds_a_cycle() -> None:
    """The cycle finder is not blind: a two-node loop and a three-node loop are found."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"x": {"y"}, "y": {"z"}, "z": {"x"}}) == [["x", "y", "z"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
