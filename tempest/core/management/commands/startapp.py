"""Create a new app in the project."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import click

from tempest.conf.environ import ENVIRONMENT_VARIABLE
from tempest.core.management.base import CommandError, echo
from tempest.core.management.discovery import (
    installed_apps_assignments,
    installed_apps_fast,
    module_source_file,
)
from tempest.core.management.templates import (
    render_tree,
    template_dir,
    validate_name,
    write_tree,
)

requires_setup = False

AUTH_APP = "tempest.contrib.auth"
"""The app whose signed-in user the example resource's write routes require."""


@click.command()
@click.argument("name")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--empty", is_flag=True, help="Write stubs instead of the example resource.")
def command(name: str, directory: Path | None, empty: bool) -> None:
    """Create a new app in the project.

    Renders models, schemas, repositories, services, controllers, routers, dependencies,
    admin, tasks, seeds, migrations/ and tests/ into DIRECTORY (default: ./NAME). By
    default the app holds one working example resource named after it; --empty writes
    stubs. The example's reads are public and its writes need a signed-in user when the
    project has tempest.contrib.auth; without it they are open, and a note says so. The
    app is added to INSTALLED_APPS when the settings file allows it.
    """
    target = (directory or Path(name)).resolve()
    installed = _installed_apps()
    _refuse_installed_label(name, installed)
    validate_name(name, "app", target)
    module = _dotted_module(target, name)
    # Unknown apps (no readable settings): protect the writes, the safe default.
    require_auth = installed is None or AUTH_APP in installed
    context = {**_context(name, module, not empty), "require_auth": require_auth}
    files = render_tree(template_dir("app_template"), context, {})
    write_tree(target, files)
    echo(f"Created app {name!r} in {target}")
    if not empty and not require_auth:
        echo(
            f"{AUTH_APP} is not installed, so the example's create, update and delete routes "
            f"are open to anyone: see the note in {name}/routers.py to protect them."
        )
    _install(module)


def _installed_apps() -> list[str] | None:
    """The project's INSTALLED_APPS, or None without settings or when they cannot be read."""
    settings_module = os.environ.get(ENVIRONMENT_VARIABLE)
    if not settings_module:
        return None
    installed = installed_apps_fast(settings_module)
    if installed is None:
        try:
            from tempest.conf import settings

            installed = [str(app) for app in settings.INSTALLED_APPS]
        except Exception:  # broken settings: the name checks still apply
            return None
    return list(installed)


def _refuse_installed_label(name: str, installed: list[str] | None) -> None:
    """Refuse a name that an installed app already uses as its label (``auth``, ``admin``).

    Args:
        name: The new app's name.
        installed: The project's INSTALLED_APPS (None: unknown, nothing to check).

    Raises:
        CommandError: Naming the installed app, with exit status 2.
    """
    for app in installed or ():
        if app.rpartition(".")[2] == name and app != name:
            raise CommandError(
                f"{name!r} is the label of the installed app {app!r}; two apps cannot share "
                f"a label, choose another name (e.g. '{name}_app' or a more specific one).",
                returncode=2,
            )


def _dotted_module(target: Path, name: str) -> str:
    """The import path of the new app: its folder relative to the working directory."""
    try:
        relative = target.relative_to(Path.cwd())
    except ValueError:
        return name
    parts = relative.parts
    return ".".join(parts) if parts and all(part.isidentifier() for part in parts) else name


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 1:
        return word[:-1]
    return word


def _context(name: str, module: str, example: bool) -> dict[str, object]:
    parts = name.split("_")
    singular_parts = [*parts[:-1], _singular(parts[-1])]
    model = "".join(part.title() for part in singular_parts)
    model_snake = "_".join(singular_parts)
    return {
        "example": example,
        "app_name": name,
        "app_module": module,
        "camel_name": "".join(part.title() for part in parts),
        "verbose_name": " ".join(parts).title(),
        "model": model,
        "model_snake": model_snake,
        "model_snake_plural": name if name != model_snake else f"{model_snake}_list",
        "model_upper": model_snake.upper(),
        "id_name": f"{model_snake}_id",
        "table": model_snake,
        "resource_verbose": " ".join(singular_parts),
        "resource_article": "an" if singular_parts[0][:1] in "aeiou" else "a",
        "resource_verbose_plural": " ".join(parts),
    }


def _install(module: str) -> None:
    """Add ``module`` to INSTALLED_APPS, or print the line to add."""
    line = f'"{module}",'
    settings_file = _settings_file()
    if settings_file is None:
        echo(f"Add {line} to INSTALLED_APPS in your settings.")
        return
    source = settings_file.read_text(encoding="utf-8")
    node = _installed_apps_list(source)
    if node is None:
        echo(f"Add {line} to INSTALLED_APPS in {settings_file}.")
        return
    values = [element.value for element in node.elts if isinstance(element, ast.Constant)]
    if module in values:
        echo(f"{module!r} is already in INSTALLED_APPS.")
        return
    settings_file.write_text(_insert_item(source, node, module), encoding="utf-8")
    echo(f"Added {module!r} to INSTALLED_APPS in {settings_file}.")


def _settings_file() -> Path | None:
    module_name = os.environ.get(ENVIRONMENT_VARIABLE)
    return module_source_file(module_name) if module_name else None


def _installed_apps_list(source: str) -> ast.List | None:
    """The literal list of strings assigned to INSTALLED_APPS, if there is exactly one."""
    try:
        found = installed_apps_assignments(ast.parse(source))
    except SyntaxError as error:
        raise CommandError(f"The settings file has a syntax error: {error}") from error
    if len(found) != 1 or not isinstance(found[0], ast.List):
        return None
    value = found[0]
    if not all(
        isinstance(item, ast.Constant) and isinstance(item.value, str) for item in value.elts
    ):
        return None
    return value


def _insert_item(source: str, node: ast.List, module: str) -> str:
    """Append ``module`` to the list literal, keeping the file's layout."""
    lines = source.splitlines(keepends=True)
    assert node.end_lineno is not None and node.end_col_offset is not None
    closing_row = lines[node.end_lineno - 1]
    close = node.end_col_offset - 1
    if closing_row[:close].strip():  # "]" follows an item or "[": insert inline
        trailing_comma = closing_row[:close].rstrip().endswith(",")
        separator = "" if not node.elts else " " if trailing_comma else ", "
        lines[node.end_lineno - 1] = (
            f'{closing_row[:close]}{separator}"{module}"{closing_row[close:]}'
        )
        return "".join(lines)
    bracket_indent = closing_row[: len(closing_row) - len(closing_row.lstrip())]
    item_indent = bracket_indent + "    "
    if node.elts:
        last = node.elts[-1]
        assert last.end_lineno is not None and last.end_col_offset is not None
        last_row = lines[last.end_lineno - 1]
        item_indent = last_row[: len(last_row) - len(last_row.lstrip())]
        rest = last_row[last.end_col_offset :]
        if not rest.lstrip().startswith(","):
            lines[last.end_lineno - 1] = last_row[: last.end_col_offset] + "," + rest
    lines.insert(node.end_lineno - 1, f'{item_indent}"{module}",\n')
    return "".join(lines)
