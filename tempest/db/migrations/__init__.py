"""Per-app migrations on Alembic: each installed app owns a branch in ``<app>/migrations``.

The commands (``makemigrations``, ``migrate``, ``showmigrations``, ``sqlmigrate``,
``squashmigrations``) use :class:`Migrations`; :class:`AlembicHelper` serves projects that
keep a classic ``alembic.ini`` without the app registry.
"""

from tempest.db.migrations.errors import DestructiveMigrationError, MigrationError
from tempest.db.migrations.helper import AlembicHelper
from tempest.db.migrations.project import MigratedApp, Migrations

__all__ = [
    "AlembicHelper",
    "DestructiveMigrationError",
    "MigratedApp",
    "MigrationError",
    "Migrations",
]
