#!/usr/bin/env python3
"""Finds import cycles among the modules of a Python package (default: python/lcsim).

    python tools/import_cycles.py [PACKAGE_DIR] [--graph]

Reads every ``.py`` file of the package with :mod:`ast` (nothing is imported, no third-party
dependency) and collects each module's imports of the package's own modules: ``import``,
``from ... import``, relative or absolute, and ``importlib.import_module("<constant>", ...)``.
Imports inside functions count too: a function-level import is a dependency that is only paid
later, and a cycle through one is still a cycle (the module order is no longer a layering).
Imports under ``if TYPE_CHECKING:`` do not count (they never run).

``from . import name`` depends on the submodule ``name`` when there is one (a ``.py`` file, a
compiled extension or a ``.pyi`` stub), otherwise on the package's ``__init__``; importing a
submodule does not count as depending on its parent package (Python imports the parent first,
whoever asks).

Exit status 0 and one line when there is no cycle; 1 and, for each strongly connected group of
modules (modules that import each other, directly or through others), one cycle through it with
the file and line of each import; 2 for a usage error.
``--graph`` also prints every module's dependencies.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

_EXTENSION_SUFFIXES = (".pyi", ".so", ".pyd")


def _modules(package_dir: Path) -> tuple[dict[str, Path], set[str]]:
    """{module name: source file} of the package's .py files, and every module name (with
    compiled extensions and stubs, which have no source to read)."""
    root = package_dir.parent
    sources: dict[str, Path] = {}
    names: set[str] = set()
    for path in sorted(package_dir.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.suffix == ".py":
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            sources[name] = path
            names.add(name)
        elif path.suffix in _EXTENSION_SUFFIXES:
            stem = path.name.split(".", 1)[0]  # _core.cpython-311-x86_64-linux-gnu.so -> _core
            parts = list(path.relative_to(root).parent.parts) + [stem]
            names.add(".".join(parts))
    return sources, names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST):
    """Every node of the tree except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) import target seen in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _owner(name: str, names: set[str]) -> str | None:
    """The package module that ``import name`` depends on: the longest known module prefix."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in names:
            return candidate
    return None


def _imports(module: str, path: Path, names: set[str]) -> list[tuple[str, int]]:
    """(imported package module, line) for each runtime import of a package module in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, int]] = []

    def add(target: str | None, line: int) -> None:
        if target is not None and target != module:
            found.append((target, line))

    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_owner(alias.name, names), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in names else _owner(base, names), node.lineno)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            value = node.args[0].value
            if called == "import_module" and isinstance(value, str):
                level = len(value) - len(value.lstrip("."))
                add(
                    _owner(_resolve(module, is_package, level, value.lstrip(".") or None), names),
                    node.lineno,
                )
    return found


def import_graph(package_dir: Path) -> tuple[dict[str, dict[str, int]], dict[str, Path]]:
    """{module: {imported module: first line}} over the package's modules, and their files."""
    sources, names = _modules(package_dir)
    graph: dict[str, dict[str, int]] = {name: {} for name in sorted(names)}
    for module, path in sources.items():
        for target, line in _imports(module, path, names):
            graph[module].setdefault(target, line)
    return graph, sources


def _strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return sorted(components)


def _cycle_in(component: list[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """One cycle through the component's first module (breadth first: a shortest one)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start] + path[::-1][1:] + [start] if len(path) > 1 else [start, start]
                if child in members and child not in previous and child != start:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]


def find_cycles(package_dir: Path) -> list[tuple[list[str], list[str]]]:
    """For each group of modules that import each other (directly or through others): its modules,
    and one cycle through them (a list of modules, first == last)."""
    graph, _ = import_graph(package_dir)
    groups = [c for c in _strongly_connected(graph) if len(c) > 1 or c[0] in graph[c[0]]]
    return [(group, _cycle_in(group, graph)) for group in groups]


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    flags = {a for a in argv if a.startswith("--")}
    if len(args) > 1 or flags - {"--graph"}:
        print("usage: python tools/import_cycles.py [PACKAGE_DIR] [--graph]", file=sys.stderr)
        return 2
    package_dir = Path(
        args[0] if args else Path(__file__).resolve().parents[1] / "python" / "lcsim"
    )
    if not (package_dir / "__init__.py").is_file():
        print(f"import_cycles: {package_dir} is not a package (no __init__.py)", file=sys.stderr)
        return 2
    graph, sources = import_graph(package_dir)
    if "--graph" in flags:
        for module, targets in graph.items():
            print(f"{module}: {', '.join(sorted(targets)) or '-'}")
    cycles = find_cycles(package_dir)
    imports = sum(len(t) for t in graph.values())
    if not cycles:
        print(
            f"import_cycles: {len(graph)} modules of {package_dir.name}, {imports} imports, no cycle"
        )
        return 0
    root = package_dir.parent
    for group, cycle in cycles:
        print("import cycle: " + " -> ".join(cycle))
        if len(group) > len(cycle) - 1:
            print(f"    (one of the cycles among {len(group)} modules: {', '.join(group)})")
        for a, b in zip(cycle, cycle[1:]):
            print(f"    {sources[a].relative_to(root)}:{graph[a][b]}: {a} imports {b}")
    print(f"import_cycles: {len(cycles)} cycle(s) among the modules of {package_dir.name}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
