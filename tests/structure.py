"""The shape of src/lrkit: its import graph, its largest files, imports of private names.

    python tests/structure.py [SRC]   # the report; tests/test_structure.py asserts on it

Every ``import`` and ``from ... import`` of an lrkit module counts, at module
level or inside a function (a lazy import still ties two modules together),
except under ``if TYPE_CHECKING:``, which never runs (``lrkit/__init__.py``
names its lazy attributes there for type checkers).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

SRC = Path(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else None
SRC = SRC or Path(__file__).resolve().parents[1] / "src"


def modules() -> dict[str, Path]:
    """``lrkit.a.b`` -> its file, for every module of the package."""
    out = {}
    for path in sorted((SRC / "lrkit").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(path: Path, name: str, known: set[str]) -> Iterator[tuple[str, list[str]]]:
    """(imported lrkit module, names taken from it) for each import in ``path``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node.test)
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("lrkit"):
                    yield _owner(alias.name, known), []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            if not base.startswith("lrkit"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:  # `from lrkit.optim import fused`: the module itself
                    yield sub, []
                else:
                    yield _owner(base, known), [alias.name]


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _owner(name: str, known: set[str]) -> str:
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {
        name: {m for m, _ in imports(path, name, known) if m != name} for name, path in mods.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
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

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def private_imports() -> list[str]:
    """``module: name from other`` where a module takes an underscore name from another
    subpackage of lrkit (within one subpackage, private helpers may be shared)."""
    mods = modules()
    known = set(mods)
    out = []
    for name, path in mods.items():
        for target, names in imports(path, name, known):
            if _subpackage(target) == _subpackage(name):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            out += [f"{name}: {n} from {target}" for n in private]
    return out


def _subpackage(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2])


def largest(n: int = 10) -> list[tuple[int, str]]:
    sizes = [(len(p.read_text().splitlines()), str(p.relative_to(SRC))) for p in modules().values()]
    return sorted(sizes, reverse=True)[:n]


if __name__ == "__main__":
    print("import cycles:", cycles(graph()) or "none")
    print("underscore names imported across subpackages:", private_imports() or "none")
    print("largest files (lines):")
    for size, path in largest():
        print(f"  {size:5d}  {path}")
