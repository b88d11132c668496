"""The layer chart of ARCHITECTURE.md §3 holds: no module of tempest imports upwards.

Every ``tempest/**/*.py`` is parsed (never imported) and every import it contains counts:
module level, inside functions, under ``if TYPE_CHECKING:``, ``importlib.import_module``
with a literal name, and the string values of the PEP 562 lazy tables (``{name: module}``)
that packages resolve on first attribute access. ``from package import name`` counts as an
import of ``package.name`` when that is a module, or of the module the package's lazy table
names for ``name``. The chart and the placement of the packages it does not name are in
:data:`LAYERS`; docs/topics/layers.md explains them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "tempest"

LAYER_NAMES = ("foundation", "data", "web", "project", "contrib")
"""Lowest first. A module may import its own layer and the ones before it."""

LAYERS: dict[str, int] = {
    # -- 0 foundation: ARCHITECTURE's `utils`, `exceptions`, `conf`.
    "tempest.utils": 0,  # includes utils.metrics (psutil/NVML loaded lazily), context, enums
    "tempest.exceptions": 0,
    "tempest.conf": 0,
    # Mail needs only conf and utils; the spec lists EmailUtils among its utils, so
    # tempest.utils re-exports it lazily: foundation.
    "tempest.mail": 0,
    # PEP 562 helper every package's __init__ uses; imports nothing of tempest.
    "tempest._lazy": 0,
    # File storage (UploadStorage, LocalUploadStorage, the S3 client): needs only conf,
    # exceptions and utils, and the spec's utils (UploadUtils, DownloadUtils,
    # utils.storage_backends) build on it, as data (file columns) and the admin do.
    "tempest.storage": 0,
    # -- 1 data: ARCHITECTURE's `schemas`, `db`.
    "tempest.schemas": 1,
    "tempest.db": 1,
    # -- 2 web: ARCHITECTURE's `api`, `services`, `controllers`.
    "tempest.api": 2,
    "tempest.services": 2,
    "tempest.controllers": 2,
    # The cache: @cached services and @cached_route routes; started by core's asgi.
    "tempest.cache": 2,
    # Feature flags: evaluated by routes (a FastAPI dependency), started by core's asgi.
    "tempest.flags": 2,
    # Web Push: the dispatcher a service calls; needs conf and schemas.
    "tempest.webpush": 2,
    # -- 3 project: ARCHITECTURE's `apps`, `core`, plus what works on the assembled project.
    "tempest.apps": 3,
    "tempest.core": 3,
    # Tasks and queues discover the apps' tasks.py / consumers through the registry
    # (apps) and are started by core (asgi, worker/scheduler commands): same layer.
    "tempest.tasks": 3,
    "tempest.queue": 3,
    # The pytest plugin builds projects (core.asgi, tasks, db); it must not need a
    # contrib app, since projects without them use it too.
    "tempest.testing": 3,
    # `python -m tempest`: runs core.management.
    "tempest.__main__": 3,
    # The top package: __version__ and setup() (which populates apps). Its lazy table and
    # the TYPE_CHECKING block mirroring it re-export every layer, contrib included, by
    # design: those lines alone are exempt (see _exempt).
    "tempest": 3,
    # -- 4 contrib: installable apps; they use only public names of the rest.
    "tempest.contrib": 4,
}


@dataclass(frozen=True)
class Import:
    """One import found in a module."""

    path: Path
    line: int
    written: str  # the module as written (relative imports resolved)
    names: tuple[str, ...]  # the names taken by ``from ... import``
    target: str  # the module actually depended on


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _lazy_table(tree: ast.Module) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """A package's ``{name: "tempest.module"}`` lazy table and its entries' lines."""
    table: dict[str, str] = {}
    lines: list[tuple[int, str]] = []
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Dict) or not value.keys:
            continue
        pairs = [
            (key.value, item.value, item.lineno)
            for key, item in zip(value.keys, value.values, strict=True)
            if isinstance(key, ast.Constant)
            and isinstance(key.value, str)
            and isinstance(item, ast.Constant)
            and isinstance(item.value, str)
        ]
        if len(pairs) == len(value.keys) and all(
            module == "tempest" or module.startswith("tempest.") for _, module, _ in pairs
        ):
            for name, module, line in pairs:
                table[name] = module
                lines.append((line, module))
    return table, lines


TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in MODULES.items()}
LAZY = {name: _lazy_table(tree)[0] for name, tree in TREES.items()}


def _resolve(module: str, name: str | None) -> str:
    """The module ``from module import name`` depends on."""
    if name is not None:
        if f"{module}.{name}" in MODULES:
            return f"{module}.{name}"
        lazy = LAZY.get(module, {})
        if name in lazy and lazy[name] != module:
            return _resolve(lazy[name], None)
    return module


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _exempt(module: str, tree: ast.Module) -> set[int]:
    """Lines of the top package's lazy re-exports: the table and its TYPE_CHECKING mirror."""
    if module != "tempest":
        return set()
    table, lines = _lazy_table(tree)
    exempt = {line for line, _ in lines}
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and all(
                    alias.name in table and alias.asname == alias.name for alias in statement.names
                ):
                    exempt.update(range(statement.lineno, (statement.end_lineno or 0) + 1))
    return exempt


def imports_of(module: str) -> list[Import]:
    """Every import of tempest that ``module`` contains, wherever it stands."""
    return _imports_in(module, MODULES[module], TREES[module])


def _imports_in(module: str, path: Path, tree: ast.Module) -> list[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(path, node.lineno, alias.name, (), alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                written = ".".join([*base, *([node.module] if node.module else [])])
            else:
                written = node.module or ""
            for alias in node.names:
                target = _resolve(written, alias.name)
                found.append(Import(path, node.lineno, written, (alias.name,), target))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Name, ast.Attribute))
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            in {"import_module", "__import__", "import_string"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            name = node.args[0].value
            found.append(Import(path, node.lineno, name, (), name))
    for line, target in _lazy_table(tree)[1]:
        found.append(Import(path, line, target, (), _resolve(target, None)))
    exempt = _exempt(module, tree)
    return [
        item
        for item in found
        if (item.target == "tempest" or item.target.startswith("tempest."))
        and item.line not in exempt
    ]


def layer_of(module: str) -> int:
    """The layer of a module: the entry of :data:`LAYERS` with the longest matching prefix."""
    matches = [key for key in LAYERS if module == key or module.startswith(key + ".")]
    assert matches, f"{module} has no layer: add its package to LAYERS in {__file__}"
    return LAYERS[max(matches, key=len)]


def _describe(layer: int) -> str:
    return f"layer {layer} {LAYER_NAMES[layer]}"


def _upward(module: str, imports: list[Import]) -> list[str]:
    source = layer_of(module)
    return [
        f"{item.path.relative_to(REPO)}:{item.line} imports {item.target} "
        f"({_describe(source)} → {_describe(layer_of(item.target))})"
        for item in imports
        if layer_of(item.target) > source
    ]


def upward_imports() -> list[str]:
    """``tempest/x.py:LINE imports tempest.y (layer A → layer B)``, one per upward import."""
    return [problem for module in MODULES for problem in _upward(module, imports_of(module))]


def import_cycles() -> list[list[str]]:
    """Groups of modules that import one another, directly or through others (Tarjan)."""
    # A module importing one of its own packages loads nothing: Python imported the
    # package before the module. Such edges (``import tempest.mail`` in tempest.mail.x)
    # are left out.
    graph = {
        module: sorted(
            {
                item.target
                for item in imports_of(module)
                if item.target in MODULES and not module.startswith(item.target + ".")
            }
        )
        for module in MODULES
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                cycles.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return cycles


def _contrib_app(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[:2] == ["tempest", "contrib"] and len(parts) > 2 else None


def private_imports_in_contrib() -> list[str]:
    """Imports by contrib apps of ``_private`` modules or names of another package."""
    problems: list[str] = []
    for module in MODULES:
        app = _contrib_app(module)
        if app is None:
            continue
        for item in imports_of(module):
            if item.written == app or item.written.startswith(app + "."):
                continue
            private = [part for part in item.written.split(".") if part.startswith("_")]
            private += [name for name in item.names if name.startswith("_")]
            if private:
                problems.append(
                    f"{item.path.relative_to(REPO)}:{item.line} imports "
                    f"{', '.join(private)} from {item.written}"
                )
    return problems


def test_every_module_has_a_layer() -> None:
    unplaced = [
        module
        for module in MODULES
        if not any(module == key or module.startswith(key + ".") for key in LAYERS)
    ]
    assert not unplaced, f"add these packages to LAYERS in {__file__}: {unplaced}"


def test_no_module_imports_a_higher_layer() -> None:
    problems = upward_imports()
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_no_import_cycles_between_modules() -> None:
    cycles = import_cycles()
    assert not cycles, "import cycles:\n" + "\n".join(" ↔ ".join(group) for group in cycles)


def test_contrib_apps_import_only_public_names() -> None:
    problems = private_imports_in_contrib()
    assert not problems, "contrib uses private names:\n" + "\n".join(problems)


def test_the_checker_sees_every_kind_of_import() -> None:
    """Imports inside functions, under TYPE_CHECKING and through lazy tables are found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from importlib import import_module\n"
        "from tempest.utils import to_utc\n"
        "if TYPE_CHECKING:\n"
        "    from tempest.core.asgi import get_asgi_application\n"
        "def build():\n"
        "    from ..apps import apps\n"
        "    return import_module('tempest.contrib.admin')\n"
        "_LAZY = {'BaseService': 'tempest.services'}\n"
        "from tempest import tasks, BaseController\n"
    )
    path = PACKAGE / "db" / "fake.py"
    found = _imports_in("tempest.db.fake", path, ast.parse(source))
    assert sorted(_upward("tempest.db.fake", found)) == sorted(
        [
            "tempest/db/fake.py:5 imports tempest.core.asgi (layer 1 data → layer 3 project)",
            "tempest/db/fake.py:7 imports tempest.apps (layer 1 data → layer 3 project)",
            "tempest/db/fake.py:8 imports tempest.contrib.admin (layer 1 data → layer 4 contrib)",
            "tempest/db/fake.py:9 imports tempest.services (layer 1 data → layer 2 web)",
            # the submodule, and the module the top package's lazy table names
            "tempest/db/fake.py:10 imports tempest.tasks (layer 1 data → layer 3 project)",
            "tempest/db/fake.py:10 imports tempest.controllers (layer 1 data → layer 2 web)",
        ]
    )
    assert layer_of("tempest.utils.metrics") == 0
    assert layer_of("tempest.contrib.admin.views") == 4
