"""Rendering the project and app templates (``startproject``, ``startapp``)."""

from __future__ import annotations

import importlib.util
import keyword
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from tempest.core.management.base import CommandError

TEMPLATE_SUFFIX = "-tpl"
_PACKAGE_DIR = Path(__file__).resolve().parents[2]


def template_dir(name: str) -> Path:
    """Folder of a bundled template: inside the installed wheel, or the source checkout.

    Args:
        name: ``project_template`` or ``app_template``.
    """
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise CommandError(f"tempest's {name} folder is missing; reinstall tempest-framework.")


def validate_name(name: str, kind: str, target: Path, *, allow_existing: bool = False) -> None:
    """Refuse a name that is no Python identifier or would shadow an importable module.

    Also refuses a ``target`` folder that exists and is not empty, unless
    ``allow_existing`` (``startproject --force``).

    Args:
        name: The project or app name.
        kind: ``project`` or ``app``, for the message.
        target: Where the files will be written.
        allow_existing: Accept a folder that has files (it must still be a folder).

    Raises:
        CommandError: Saying why and what to use instead; exit status 2 for a bad name.
    """
    if not name.isidentifier() or not name.isascii():
        raise CommandError(
            f"{name!r} is not a valid {kind} name: use letters, digits and underscores, "
            "starting with a letter (e.g. 'shop').",
            returncode=2,
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise CommandError(
            f"{name!r} is a Python keyword and cannot be a {kind} name; choose another.",
            returncode=2,
        )
    if not (allow_existing and target.is_dir()):
        check_target(target)
    if _importable(name):
        raise CommandError(
            f"{name!r} conflicts with the name of an existing Python module and cannot be "
            f"used as a {kind} name; choose another.",
            returncode=2,
        )


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


LINE_LENGTH = 100
"""The generated project's ``ruff`` line length (its pyproject.toml)."""


def fit_call(indent: str, head: str, arguments: str, tail: str = "", brackets: str = "()") -> str:
    """``head(arguments)tail`` laid out as ``ruff format`` would, for names of any length.

    Templates call it as ``{{ fit("    ", "async def update", "self, data: ...", ":") }}``
    where a line's length depends on the app's names: on one line when it fits in
    :data:`LINE_LENGTH`, else the arguments on a line of their own, else one per line
    with a trailing comma.

    Args:
        indent: The indentation of the line.
        head: What comes before the opening parenthesis.
        arguments: The parameters or arguments, comma-separated.
        tail: What follows the closing parenthesis (``" -> T:"``, ``""``).
        brackets: The pair around the arguments: ``"()"``, or ``"[]"`` for a subscript.

    Returns:
        The text, without a final newline.
    """
    opening, closing = brackets[0], brackets[1]
    line = f"{indent}{head}{opening}{arguments}{closing}{tail}"
    if len(line) <= LINE_LENGTH:
        return line
    inner = indent + "    "
    if len(inner + arguments) <= LINE_LENGTH:
        return f"{indent}{head}{opening}\n{inner}{arguments}\n{indent}{closing}{tail}"
    exploded = "".join(f"{inner}{argument},\n" for argument in _split_arguments(arguments))
    return f"{indent}{head}{opening}\n{exploded}{indent}{closing}{tail}"


def fit_value(indent: str, head: str, value: str) -> str:
    """``head value`` laid out as ``ruff format`` would: in parentheses when too long.

    Templates call it as ``{{ fit_value("    ", "DATABASE_URL: str =", '"..."') }}``
    where the value's length depends on the project's name.

    Args:
        indent: The indentation of the line.
        head: What comes before the value (``NAME: type =``).
        value: The value's source, e.g. a string literal.

    Returns:
        The text, without a final newline.
    """
    line = f"{indent}{head} {value}"
    inner = f"{indent}    {value}"
    if len(line) <= LINE_LENGTH or len(inner) > LINE_LENGTH:
        return line
    return f"{indent}{head} (\n{inner}\n{indent})"


def _split_arguments(arguments: str) -> list[str]:
    """Split at the commas outside brackets: ``a: dict[str, int], b`` → two arguments."""
    parts: list[str] = []
    depth = 0
    start = 0
    for index, character in enumerate(arguments):
        if character in "([{":
            depth += 1
        elif character in ")]}":
            depth -= 1
        elif character == "," and depth == 0:
            parts.append(arguments[start:index].strip())
            start = index + 1
    parts.append(arguments[start:].strip())
    return [part for part in parts if part]


def render_tree(source: Path, context: dict[str, Any], rename: dict[str, str]) -> dict[Path, str]:
    """Render every file of a template folder in memory.

    Files ending in ``-tpl`` are Jinja2 templates and lose the suffix; path parts listed
    in ``rename`` are replaced (``project_name`` → ``shop``).

    Args:
        source: The template folder.
        context: Template variables.
        rename: Path part replacements.

    Returns:
        Relative path → rendered text.
    """
    from jinja2 import Environment, StrictUndefined

    environment = Environment(
        keep_trailing_newline=True, undefined=StrictUndefined, autoescape=False
    )
    environment.globals["fit"] = fit_call
    environment.globals["fit_value"] = fit_value
    rendered: dict[Path, str] = {}
    for path in sorted(source.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(source)
        parts = [rename.get(part, part) for part in relative.parts]
        text = path.read_text(encoding="utf-8")
        if parts[-1].endswith(TEMPLATE_SUFFIX):
            parts[-1] = parts[-1].removesuffix(TEMPLATE_SUFFIX)
            text = environment.from_string(text).render(context)
        rendered[Path(*parts)] = text
    return rendered


def check_target(target: Path) -> None:
    """Refuse to write into a folder that exists and is not empty.

    Raises:
        CommandError: The folder is a file or has content.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise CommandError(
            f"{target} already exists and is not empty; choose another name or directory.",
            returncode=1,
        )


def existing_files(target: Path, files: Collection[Path]) -> list[Path]:
    """The paths of ``files`` that already exist under ``target`` (what would be overwritten)."""
    return sorted(relative for relative in files if (target / relative).exists())


def write_tree(
    target: Path,
    files: dict[Path, str],
    executable: Collection[Path] = (),
    *,
    keep_existing: bool = False,
) -> None:
    """Write rendered files under ``target``; on failure remove what was written.

    Args:
        target: Destination folder (created if missing; must be empty unless
            ``keep_existing``).
        files: Relative path → text.
        executable: Relative paths to mark executable.
        keep_existing: The folder may hold other files: they are left as they are, and
            a failure removes only the files this call created.
    """
    if keep_existing and target.is_dir():
        _write_beside_existing(target, files, executable)
        return
    created_root = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        for relative, text in files.items():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
            if relative in executable:
                destination.chmod(0o755)
    except BaseException:
        if created_root:
            shutil.rmtree(target, ignore_errors=True)
        else:
            for child in target.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _write_beside_existing(
    target: Path, files: dict[Path, str], executable: Collection[Path]
) -> None:
    """Write ``files`` into a folder with content: only they change; a failure undoes new ones."""
    created: list[Path] = []
    try:
        for relative, text in files.items():
            destination = target / relative
            for parent in reversed(destination.parents):
                if parent not in target.parents and parent != target and not parent.exists():
                    parent.mkdir()
                    created.append(parent)
            if not destination.exists():
                created.append(destination)
            destination.write_text(text, encoding="utf-8")
            if relative in executable:
                destination.chmod(0o755)
    except BaseException:
        for path in reversed(created):
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        raise
