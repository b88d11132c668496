"""Copy every installed app's static files into STATIC_ROOT, for production serving."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo


@click.command()
@click.option("--noinput", "--no-input", is_flag=True, help="Do not ask for confirmation.")
@click.option("--clear", is_flag=True, help="Delete what STATIC_ROOT holds before copying.")
def command(noinput: bool, clear: bool) -> None:
    """Copy each installed app's static/ folder into STATIC_ROOT.

    Apps are read in INSTALLED_APPS order and the first app that has a file wins, as
    runserver serves them. Dotfiles and symlinks leading out of their app's static/
    folder are left out; a file already in STATIC_ROOT with the same size and
    modification time is left alone. Nothing is ever written outside STATIC_ROOT.
    Asks for confirmation first unless --noinput.
    """
    from tempest.conf import settings
    from tempest.core.static import app_static_directories

    if not settings.STATIC_ROOT:
        raise CommandError(
            "STATIC_ROOT is not set: set it in settings or .env to the folder to fill, "
            "e.g. STATIC_ROOT=staticfiles."
        )
    root = Path(settings.STATIC_ROOT).resolve()
    sources = [folder.resolve() for folder in app_static_directories()]
    _check_root(root, sources)
    if not noinput:
        action = "DELETE every file in" if clear else "overwrite existing files in"
        click.confirm(
            f"This will {action} {root} and copy the static files of "
            f"{len(sources)} app(s) there. Are you sure?",
            abort=True,
        )
    if clear and root.exists():
        deleted = _clear(root)
        echo(f"Deleted {deleted} file(s) from {root}.")
    root.mkdir(parents=True, exist_ok=True)
    copied = unmodified = 0
    seen: set[str] = set()
    for source in sources:
        for relative in _files(source):
            key = relative.as_posix()
            if key in seen:
                echo(f"Skipping {key} of {source}: an earlier app has it.", level=2)
                continue
            seen.add(key)
            if _copy(source / relative, _destination(root, relative)):
                copied += 1
                echo(f"Copied {source / relative}", level=2)
            else:
                unmodified += 1
    echo(f"{copied} static file(s) copied to {root}, {unmodified} unmodified.")


def _check_root(root: Path, sources: list[Path]) -> None:
    """Refuse a STATIC_ROOT that is, holds or lies in a source folder or the project."""
    project = Path.cwd().resolve()
    if root == project or root in project.parents:
        raise CommandError(
            f"STATIC_ROOT {root} holds the project itself: use a folder of its own, "
            "e.g. STATIC_ROOT=staticfiles."
        )
    for source in sources:
        if root == source or source in root.parents or root in source.parents:
            raise CommandError(
                f"STATIC_ROOT {root} overlaps the app folder {source}: collectstatic copies "
                "from the apps' static/ folders, so use a folder apart from them."
            )
    if root.exists() and not root.is_dir():
        raise CommandError(f"STATIC_ROOT {root} is a file, not a folder.")


def _files(source: Path) -> list[Path]:
    """The files under ``source`` to collect, relative to it, sorted."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(source):
        # No dotfolders (.git) and no dotfiles (.env): HardenedStaticFiles refuses them.
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            real = path.resolve()
            if source not in real.parents or not real.is_file():
                echo(f"Skipping {path}: it leads out of {source}.", level=1)
                continue
            found.append(path.relative_to(source))
    return found


def _destination(root: Path, relative: Path) -> Path:
    target = root / relative
    # A linked folder in STATIC_ROOT must not carry the copy elsewhere (a link in place of
    # the file itself is replaced, not followed: see _copy).
    parent = target.parent.resolve()
    if parent != root and root not in parent.parents:
        raise CommandError(
            f"{target.parent} leads out of STATIC_ROOT (to {parent}): remove that link, "
            "or run collectstatic --clear."
        )
    return target


def _copy(source: Path, target: Path) -> bool:
    """Copy unless ``target`` has the same size and modification time; True if copied."""
    if target.is_file() and not target.is_symlink():
        have, want = target.stat(), source.stat()
        if have.st_size == want.st_size and int(have.st_mtime) == int(want.st_mtime):
            return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    shutil.copy2(source, target)
    return True


def _clear(root: Path) -> int:
    """Delete what ``root`` holds (links themselves, never what they point to)."""
    deleted = 0
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            deleted += sum(1 for _ in entry.rglob("*") if not _.is_dir())
            shutil.rmtree(entry)
        else:
            entry.unlink()
            deleted += 1
    return deleted
