"""The distribution's metadata: its own name, a licence, and every directly imported package declared."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_distribution_has_its_own_name_and_an_spdx_licence() -> None:
    assert PYPROJECT["name"] == "digest-newsletter"  # PyPI's "digest" is an unrelated hash utility
    assert PYPROJECT["scripts"] == {"digest": "digest.cli:main"}
    assert PYPROJECT["license"] == "MIT"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
    classifiers = PYPROJECT["classifiers"]
    assert {f"Programming Language :: Python :: 3.{n}" for n in (11, 12, 13)} <= set(classifiers)
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the SPDX string only


def test_every_directly_imported_package_is_declared() -> None:
    imported: set[str] = set()
    for path in (REPO / "digest").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "digest"}
    declared = {_name(r) for r in PYPROJECT["dependencies"]}
    declared |= {_name(r) for extra in PYPROJECT["optional-dependencies"].values() for r in extra}
    dists = packages_distributions()
    undeclared = {}
    for module in sorted(third_party):
        names = {d.lower().replace("_", "-") for d in dists.get(module, [module])}
        if not names & declared:
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not in pyproject.toml: {undeclared}"
    assert {"cssutils", "markupsafe", "python-http-client"} <= declared


def test_every_package_folder_ships_in_the_wheel() -> None:
    """A subpackage missing from [tool.setuptools] packages is left out of the wheel: `digest` then fails to
    import after `pip install` although every test of the source checkout passes."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "digest").rglob("__init__.py")}
    assert folders <= listed, sorted(folders - listed)
