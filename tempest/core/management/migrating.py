"""What the migration commands share: the project's migrations, errors as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tempest.core.management.base import CommandError

if TYPE_CHECKING:
    from tempest.db.migrations import Migrations


def project_migrations() -> Migrations:
    """The migrations of the installed apps, on the project database."""
    from tempest.db.migrations import Migrations

    return Migrations.from_registry()


@contextmanager
def migration_errors() -> Iterator[None]:
    """Turn :class:`~tempest.db.migrations.MigrationError` into a one-line command error."""
    from tempest.db.migrations import MigrationError

    try:
        yield
    except MigrationError as error:
        raise CommandError(str(error)) from error


def relative(path: object) -> str:
    """A path as the user sees it: relative to the current directory when inside it."""
    from pathlib import Path

    resolved = Path(str(path)).resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)
