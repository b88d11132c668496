"""What the migration commands share: the project's migrations, errors as one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tempest.core.management.base import CommandError

if TYPE_CHECKING:
    from tempest.db.migrations import Migrations


def project_migrations(database_url: str | None = None) -> Migrations:
    """The migrations of the installed apps, from the populated app registry and settings.

    Args:
        database_url: Use this database instead of ``settings.DATABASE_URL``.
    """
    from tempest.apps import apps
    from tempest.conf import settings
    from tempest.db.migrations import MigratedApp, Migrations
    from tempest.db.models import BaseModel

    migrated: list[MigratedApp] = []
    for config in apps.get_app_configs():
        app = MigratedApp(
            label=config.label,
            directory=config.migrations_path,
            tables=frozenset(apps.get_table_names(config.label)),
            ships_with_tempest=config.ships_with_tempest,
        )
        if app.tables or app.revision_files():
            migrated.append(app)
    installed = [config.label for config in apps.get_app_configs()]
    return Migrations(
        database_url or settings.DATABASE_URL, migrated, BaseModel.metadata, installed
    )


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
