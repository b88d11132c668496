"""Each lazy package's one table of exports: ``__all__`` and the typing names agree with it.

A package resolving names lazily (PEP 562, :func:`tempest._lazy.lazy_attributes`) keeps
``{name: module}`` in one literal dict. Its ``__all__`` lists the table (plus the names it
imports eagerly), and its ``if TYPE_CHECKING:`` block imports exactly the table's names
from the table's modules: a name missing there still works at runtime but is ``Any`` for
mypy and IDEs. The packages are found by parsing ``tempest/**/__init__.py``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "tempest"

EXPECTED = {
    "tempest",
    "tempest.api",
    "tempest.conf",
    "tempest.utils",
    "tempest.tasks",
    "tempest.queue",
    "tempest.contrib.auth",
    "tempest.contrib.admin",
}
"""Lazy packages known when this test was written; a new one is found and checked too."""


@dataclass(frozen=True)
class LazyPackage:
    """What a lazy package's source declares."""

    name: str
    path: Path
    table: dict[str, str]
    typing_imports: dict[str, str]  # name -> module, from the TYPE_CHECKING block
    typing_problems: list[str]
    eager: set[str]  # names bound at module level, outside TYPE_CHECKING


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _table_name(tree: ast.Module) -> str | None:
    """The variable passed to ``lazy_attributes(__name__, <variable>)``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "lazy_attributes"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Name)
        ):
            return node.args[1].id
    return None


def _parse(path: Path) -> LazyPackage | None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    variable = _table_name(tree)
    if variable is None:
        return None
    name = ".".join(path.relative_to(REPO).parent.parts)
    table: dict[str, str] | None = None
    typing_imports: dict[str, str] = {}
    problems: list[str] = []
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                if not isinstance(statement, ast.ImportFrom) or statement.level:
                    problems.append(f"line {statement.lineno}: not an absolute `from x import`")
                    continue
                for alias in statement.names:
                    if alias.asname != alias.name:
                        problems.append(
                            f"line {statement.lineno}: write `{alias.name} as {alias.name}` "
                            "(an explicit re-export for mypy --strict)"
                        )
                    if alias.name in typing_imports:
                        problems.append(f"line {statement.lineno}: {alias.name} imported twice")
                    typing_imports[alias.name] = statement.module or ""
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            eager.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            eager.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {target.id for target in targets if isinstance(target, ast.Name)}
            eager.update(names)
            if variable in names:
                assert node.value is not None
                # A literal dict: tests/test_layers.py reads the same table from the source.
                table = ast.literal_eval(node.value)
    assert table is not None, f"{path}: {variable} must be a literal dict of name -> module"
    return LazyPackage(name, path, table, typing_imports, problems, eager)


def _packages() -> dict[str, LazyPackage]:
    found = (_parse(path) for path in sorted(PACKAGE.rglob("__init__.py")))
    return {package.name: package for package in found if package is not None}


PACKAGES = _packages()


def _expected_block(package: LazyPackage) -> str:
    """The TYPE_CHECKING block the table calls for, to paste into the package."""
    by_module: dict[str, list[str]] = defaultdict(list)
    for name, module in package.table.items():
        by_module[module].append(name)
    lines = ["if TYPE_CHECKING:"]
    for module in sorted(by_module):
        names = ", ".join(f"{name} as {name}" for name in sorted(by_module[module]))
        lines.append(f"    from {module} import {names}")
    return "\n".join(lines)


def test_every_lazy_package_is_found() -> None:
    assert set(PACKAGES) >= EXPECTED, f"not found: {sorted(EXPECTED - set(PACKAGES))}"


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_the_typing_block_imports_exactly_the_table_from_its_modules(name: str) -> None:
    package = PACKAGES[name]
    assert not package.typing_problems, package.typing_problems
    missing = sorted(set(package.table) - set(package.typing_imports))
    extra = sorted(set(package.typing_imports) - set(package.table))
    elsewhere = sorted(
        f"{item}: table says {package.table[item]}, TYPE_CHECKING imports it from {module}"
        for item, module in package.typing_imports.items()
        if item in package.table and package.table[item] != module
    )
    assert not (missing or extra or elsewhere), (
        f"{package.path.relative_to(REPO)}: the TYPE_CHECKING block does not mirror the lazy "
        f"table (missing: {missing}, not in the table: {extra}, {elsewhere}). Names missing "
        f"there are typed Any. Expected block:\n{_expected_block(package)}"
    )


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_all_is_the_table_and_the_eager_names(name: str) -> None:
    package = PACKAGES[name]
    exported: list[str] = importlib.import_module(name).__all__
    assert len(exported) == len(set(exported)), f"{name}.__all__ lists a name twice"
    missing = sorted(set(package.table) - set(exported))
    assert not missing, f"{name}.__all__ lacks table names {missing}: build it as [..., *table]"
    unbound = sorted(set(exported) - set(package.table) - package.eager)
    assert not unbound, f"{name}.__all__ lists {unbound}, neither in the table nor imported"
    overlap = sorted(set(package.table) & package.eager)
    assert not overlap, f"{name} imports {overlap} eagerly and lists them in the lazy table"


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_every_table_entry_resolves_to_its_modules_object(name: str) -> None:
    package = PACKAGES[name]
    module = importlib.import_module(name)
    wrong: list[str] = []
    for attribute, source in package.table.items():
        if importlib.util.find_spec(f"{name}.{attribute}") is not None:
            # Importing the submodule rebinds the attribute to the module, whatever the table.
            wrong.append(f"{attribute} is also the submodule {name}.{attribute}")
            continue
        value = getattr(module, attribute)
        expected = getattr(importlib.import_module(source), attribute)
        if value is not expected:
            wrong.append(f"{attribute} is not {source}.{attribute}")
    assert not wrong, wrong
    with pytest.raises(AttributeError, match=f"module '{name}' has no attribute 'nonexistent'"):
        getattr(module, "nonexistent")  # noqa: B009 - the lazy lookup under test


def test_mypy_types_no_table_name_as_any(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One mypy run over every table name of every lazy package (about 30 s)."""
    from mypy import api

    lines = ["from tempest import AdminSite, task", "reveal_type(task)", "reveal_type(AdminSite)"]
    subjects = ["tempest.task", "tempest.AdminSite"]
    for index, (name, package) in enumerate(sorted(PACKAGES.items())):
        lines.append(f"import {name} as package_{index}")
        for attribute in sorted(package.table):
            lines.append(f"reveal_type(package_{index}.{attribute})")
            subjects.append(f"{name}.{attribute}")
    snippet = tmp_path / "exports_snippet.py"
    snippet.write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(REPO)  # mypy finds tempest and its cache from the repository
    stdout, stderr, _status = api.run(
        ["--config-file", str(REPO / "pyproject.toml"), "--no-error-summary", str(snippet)]
    )
    revealed = dict(re.findall(r'exports_snippet\.py:(\d+): note: Revealed type is "(.*)"', stdout))
    lines_of_subjects = [
        number for number, line in enumerate(lines, start=1) if line.startswith("reveal_type")
    ]
    assert len(revealed) == len(subjects), f"mypy did not run as expected:\n{stdout}\n{stderr}"
    untyped = [
        subject
        for subject, number in zip(subjects, lines_of_subjects, strict=True)
        if revealed[str(number)] == "Any"
    ]
    assert not untyped, f"typed Any by mypy (missing from a TYPE_CHECKING block?): {untyped}"
