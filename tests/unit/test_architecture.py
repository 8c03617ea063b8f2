"""The package's shape: no import circle between its modules, no module over 600 lines, no ImportError guard.

Every ``import`` and ``from … import`` of a ``digest`` module is read with ``ast`` wherever it sits (module
level, inside a function, under ``if TYPE_CHECKING``: a circle through a lazy import is still a circle, it
only fails later). An edge ``a → b`` means module ``a`` imports module ``b``; importing a package imports its
``__init__``; ``from pkg import name`` imports the submodule ``pkg.name`` when that is a module, else ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "digest"
MAX_LINES = 600
# Circles that another change removes; each entry is the sorted tuple of the modules in the circle. An entry
# that no longer matches a circle fails the test too, so the list only shrinks.
KNOWN_CIRCLES: set[tuple[str, ...]] = set()


def module_name(path: Path, root: Path = REPO) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by a ``from`` import (relative ones resolved against ``current``)."""
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules that module ``name`` imports (anywhere in its body)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node)
            # ``from pkg import mod`` needs the submodule; ``from pkg import name`` needs the package itself.
            subs = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in subs if t in known]
            if len(targets) < len(subs):
                targets.append(base)
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

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
                out.append(tuple(sorted(component)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


# --- the checker's own behaviour, on a little package written for the test --------------------------------


def test_the_checker_finds_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "digest"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n    return x\n")
    (pkg / "c.py").write_text("import digest.a\n")
    known = modules(pkg)
    edges = {name: imports_of(name, path, known) for name, path in known.items()}
    assert edges["digest.a"] == {"digest.sub.b"}
    assert edges["digest.sub.b"] == {"digest.a"}
    assert edges["digest.c"] == {"digest.a"}
    assert circles(edges) == [("digest.a", "digest.sub.b")]


# --- the package itself ----------------------------------------------------------------------------------


def test_no_import_circle_between_the_projects_modules() -> None:
    found = set(circles(graph()))
    new = sorted(found - KNOWN_CIRCLES)
    assert not new, "import circles (modules importing each other, directly or around a loop): " + "; ".join(
        " <-> ".join(c) for c in new)
    gone = sorted(KNOWN_CIRCLES - found)
    assert not gone, f"known circles that no longer exist: remove them from KNOWN_CIRCLES: {gone}"


def test_no_module_over_600_lines() -> None:
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them along a seam): {long}"


def _guarded_project_imports(path: Path) -> list[int]:
    """Lines of ``try`` blocks that import a ``digest`` module and catch ImportError (or a parent of it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    lines: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        caught = set()
        for handler in node.handlers:
            kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
            caught |= {k.id for k in kinds if isinstance(k, ast.Name)} | ({"bare"} if handler.type is None else set())
        if not caught & {"ImportError", "ModuleNotFoundError", "Exception", "BaseException", "bare"}:
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if (isinstance(sub, ast.ImportFrom) and (sub.level > 0 or (sub.module or "").startswith("digest"))) or (
                        isinstance(sub, ast.Import) and any(a.name.startswith("digest") for a in sub.names)):
                    lines.append(sub.lineno)
    return lines


def test_no_import_error_guard_around_the_projects_own_modules() -> None:
    guarded = {name: lines for name, path in modules().items() if (lines := _guarded_project_imports(path))}
    assert not guarded, f"imports of digest's own modules inside try/except ImportError (lines): {guarded}"


def test_the_guard_check_sees_a_relative_import_in_a_function(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    try:\n        from .x import y\n    except ImportError:\n        y = None\n"
                   "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n")
    assert _guarded_project_imports(src) == [3]


def test_every_package_is_in_the_wheel() -> None:
    """pyproject.toml lists the packages the wheel ships: a package missing there imports from a checkout but
    not from an installed digest."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert packages <= listed, f"packages missing from [tool.setuptools] packages: {sorted(packages - listed)}"
