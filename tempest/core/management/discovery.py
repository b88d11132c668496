"""Finding commands without importing them.

A command is a module ``<package>/management/commands/<name>.py`` that defines
``command``, a Click command. Listing them only reads directories and, for the one-line
help, each module's docstring; nothing is imported until a command runs.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

BUILTIN_GROUP = "tempest"
_BUILTIN_PACKAGE = "tempest.core.management.commands"
_BUILTIN_DIR = Path(__file__).with_name("commands")


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives.

    Attributes:
        name: What the user types (the module's file name).
        module: Dotted module to import when the command runs.
        path: The module's file.
        group: Who provides it: ``tempest`` or an app label.
    """

    name: str
    module: str
    path: Path
    group: str

    def short_help(self) -> str:
        """First line of the module docstring, read without importing the module."""
        try:
            tree = ast.parse(self.path.read_bytes())
        except (OSError, SyntaxError, ValueError):
            return ""
        doc = ast.get_docstring(tree) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


def _commands_in(directory: Path, package: str, group: str) -> list[CommandEntry]:
    if not directory.is_dir():
        return []
    return [
        CommandEntry(path.stem, f"{package}.{path.stem}", path, group)
        for path in sorted(directory.glob("*.py"))
        if not path.stem.startswith("_")
    ]


def builtin_commands() -> list[CommandEntry]:
    """The commands that ship with tempest."""
    return _commands_in(_BUILTIN_DIR, _BUILTIN_PACKAGE, BUILTIN_GROUP)


def app_package_dir(app_name: str) -> Path | None:
    """Directory of an app package, found without importing it (parents excepted)."""
    try:
        spec = importlib.util.find_spec(app_name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def app_commands(installed_apps: list[str]) -> list[CommandEntry]:
    """Commands of the installed apps, in INSTALLED_APPS order."""
    entries: list[CommandEntry] = []
    for app_name in installed_apps:
        directory = app_package_dir(app_name)
        if directory is None:
            continue
        label = app_name.rpartition(".")[2]
        package = f"{app_name}.management.commands"
        entries.extend(_commands_in(directory / "management" / "commands", package, label))
    return entries


def command_table(installed_apps: list[str]) -> dict[str, CommandEntry]:
    """Every command by name: an app's command overrides a built-in; the first app wins."""
    table = {entry.name: entry for entry in builtin_commands()}
    seen_in_apps: set[str] = set()
    for entry in app_commands(installed_apps):
        if entry.name not in seen_in_apps:
            table[entry.name] = entry
            seen_in_apps.add(entry.name)
    return table


def installed_apps_fast(settings_module: str) -> list[str] | None:
    """Read INSTALLED_APPS without importing the settings (and so without pydantic).

    Used only to list commands for ``--help``. It answers only when the value is
    unambiguous: an ``INSTALLED_APPS`` environment variable (JSON, as pydantic-settings
    reads it), else a single literal ``INSTALLED_APPS = [...]`` in the settings module and
    none in ``.env``. Anything else returns None and the caller imports the settings.

    Args:
        settings_module: Dotted settings module.

    Returns:
        The app list, or None when it cannot be known without importing.
    """
    from_env = os.environ.get("INSTALLED_APPS")
    if from_env is not None:
        return _string_list(from_env)
    if _dotenv_defines("INSTALLED_APPS"):
        return None
    source_file = module_source_file(settings_module)
    if source_file is None:
        return None
    try:
        values = installed_apps_assignments(ast.parse(source_file.read_bytes()))
    except (OSError, SyntaxError, ValueError):
        return None
    if len(values) != 1 or values[0] is None:
        return None
    try:
        value = ast.literal_eval(values[0])
    except (ValueError, SyntaxError, TypeError):
        return None
    return value if _is_string_list(value) else None


def module_source_file(module_name: str) -> Path | None:
    """The ``.py`` file of a module, found without importing it (parents excepted)."""
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def installed_apps_assignments(tree: ast.Module) -> list[ast.expr | None]:
    """The right-hand side of every assignment to ``INSTALLED_APPS`` in a module.

    Covers ``=``, annotated assignments (None when there is no value) and ``+=``, at
    module level and in class bodies.
    """
    values: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign | ast.AugAssign) and _is_installed_apps(node.target)
        ) or (isinstance(node, ast.Assign) and any(map(_is_installed_apps, node.targets))):
            values.append(node.value)
    return values


def _is_installed_apps(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "INSTALLED_APPS"


def _dotenv_defines(name: str) -> bool:
    try:
        text = Path(".env").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(
        line.strip().removeprefix("export ").startswith(f"{name}=") for line in text.splitlines()
    )


def _string_list(text: str) -> list[str] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if _is_string_list(value) else None


def _is_string_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
