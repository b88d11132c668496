"""A project's migrations: one Alembic branch per installed app, and the state of a database."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from alembic.config import Config
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from tempest.db.internals import all_down_revisions
from tempest.db.migrations.environment import EnvironmentOptions
from tempest.db.migrations.errors import MigrationError

__all__ = ["MigratedApp", "Migrations"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "alembic_env"
FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s"
"""Revision files sort by date: ``2026_11_26_0915-3f2a9c1d4b7e_add_order_note.py``."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class MigratedApp:
    """An installed app as migrations see it.

    Attributes:
        label: The app label, also the label of its Alembic branch.
        directory: ``<app>/migrations``, where its revisions live.
        tables: The tables its models declare.
        ships_with_tempest: One of tempest's own apps, whose migrations come with it.
    """

    label: str
    directory: Path
    tables: frozenset[str]
    ships_with_tempest: bool = False

    def revision_files(self) -> list[Path]:
        """The revision modules in :attr:`directory` (none when it does not exist)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path for path in self.directory.glob("*.py") if not path.name.startswith("__")
        )

    def created_tables(self) -> set[str]:
        """Tables whose creation this app's revision files contain."""
        pattern = re.compile(r"create_table\(\s*['\"]([^'\"]+)['\"]")
        found: set[str] = set()
        for path in self.revision_files():
            found.update(pattern.findall(path.read_text(encoding="utf-8")))
        return found


class Migrations:
    """The revisions of every installed app, and the state of one database.

    Args:
        database_url: The project's database (an async SQLAlchemy URL).
        apps: The apps that take part, in INSTALLED_APPS order.
        metadata: The models' metadata.
        installed: The labels of every installed app, those without models or migrations
            too (for error messages); defaults to the labels of ``apps``.

    The project's instance, built from the app registry and settings, comes from
    :func:`tempest.core.management.migrating.project_migrations`.
    """

    def __init__(
        self,
        database_url: str,
        apps: Sequence[MigratedApp],
        metadata: MetaData,
        installed: Sequence[str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.apps = {app.label: app for app in apps}
        self.metadata = metadata
        self.installed = list(self.apps) if installed is None else list(installed)

    # -- Alembic configuration -------------------------------------------------------------

    def config(
        self,
        options: EnvironmentOptions | None = None,
        connection: Connection | None = None,
        output: io.StringIO | None = None,
    ) -> Config:
        """An Alembic ``Config`` for this project; no alembic.ini is involved.

        Args:
            options: How ``env.py`` configures the run (defaults: every table).
            connection: The open connection to migrate (online commands).
            output: Where offline SQL is written.
        """
        config = Config(output_buffer=output, stdout=io.StringIO())
        config.cmd_opts = argparse.Namespace(quiet=True)  # no "Generating ... done" lines
        config.set_main_option("script_location", _escape(str(TEMPLATE_DIR)))
        config.set_main_option("path_separator", "newline")
        locations = [str(app.directory) for app in self.apps.values() if app.directory.is_dir()]
        config.set_main_option("version_locations", _escape("\n".join(locations)))
        config.set_main_option("file_template", _escape(FILE_TEMPLATE))
        config.set_main_option("timezone", "UTC")
        config.set_main_option("truncate_slug_length", "60")
        config.attributes["tempest"] = options or EnvironmentOptions(
            url=self.database_url, metadata=self.metadata
        )
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def script(self) -> ScriptDirectory:
        """Every revision of every app, read from disk now.

        Raises:
            MigrationError: A revision file does not load (the message names it).
        """
        try:
            return ScriptDirectory.from_config(self.config())
        except SyntaxError as error:
            raise MigrationError(
                f"{error.filename}, line {error.lineno}: {error.msg}; fix the revision file."
            ) from error
        except AlembicCommandError as error:
            raise MigrationError(str(error)) from error

    def app(self, label: str) -> MigratedApp:
        """The app with this label.

        Raises:
            MigrationError: No installed app with models or migrations has this label.
        """
        try:
            return self.apps[label]
        except KeyError:
            installed = self.installed
            if label in installed:
                raise MigrationError(f"App {label!r} has no models and no migrations.") from None
            raise MigrationError(
                f"No installed app with label {label!r}; installed: "
                f"{', '.join(installed) or 'none'}."
            ) from None

    # -- the revision graph -----------------------------------------------------------------

    def revisions(self, label: str, script: ScriptDirectory | None = None) -> list[Script]:
        """One app's revisions, oldest first.

        Raises:
            MigrationError: The app's branch has more than one head.
        """
        script = script or self.script()
        directory = self.app(label).directory.resolve()
        mine = [
            revision
            for revision in script.walk_revisions()
            if Path(revision.path).resolve().parent == directory
        ]
        return _oldest_first(mine)

    def heads(self, label: str, script: ScriptDirectory | None = None) -> list[str]:
        """The heads of one app's branch (one unless two revisions share a parent)."""
        revisions = self.revisions(label, script)
        parents = {parent for revision in revisions for parent in _parents(revision)}
        return [revision.revision for revision in revisions if revision.revision not in parents]

    def head(self, label: str, script: ScriptDirectory | None = None) -> str | None:
        """The one head of an app's branch, None when it has no revisions.

        Raises:
            MigrationError: The branch has two heads; the message says how to merge them.
        """
        heads = self.heads(label, script)
        if len(heads) > 1:
            raise MigrationError(multiple_heads_message(label, heads))
        return heads[0] if heads else None

    def app_of(self, revision: Script) -> str:
        """The label of the app that holds a revision."""
        directory = Path(revision.path).resolve().parent
        for app in self.apps.values():
            if app.directory.resolve() == directory:
                return app.label
        return "?"

    def resolve(self, label: str, target: str, script: ScriptDirectory) -> Script:
        """The app's revision whose id starts with ``target``.

        Raises:
            MigrationError: None or several of the app's revisions match.
        """
        matches = [
            revision
            for revision in self.revisions(label, script)
            if revision.revision.startswith(target)
        ]
        if len(matches) != 1:
            known = ", ".join(revision.revision for revision in self.revisions(label, script))
            problem = "matches several revisions" if matches else "is not a revision"
            raise MigrationError(
                f"{target!r} {problem} of app {label!r}; its revisions: {known or 'none'}."
            )
        return matches[0]

    # -- the database -----------------------------------------------------------------------

    def connect(self, work: Callable[[Connection], _T]) -> _T:
        """Run ``work(connection)`` on a fresh connection to the project database.

        Args:
            work: Runs in SQLAlchemy's sync adapter, so Alembic can use the connection.
        """
        return asyncio.run(self._connect(work))

    async def _connect(self, work: Callable[[Connection], _T]) -> _T:
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlalchemy.pool import NullPool

        engine = create_async_engine(self.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.run_sync(work)
                await connection.commit()
                return result
        finally:
            await engine.dispose()

    @staticmethod
    def current_heads(connection: Connection) -> set[str]:
        """The revision ids the database's version table holds."""
        from alembic.runtime.migration import MigrationContext

        return set(MigrationContext.configure(connection).get_current_heads())

    def applied(self, heads: Iterable[str], script: ScriptDirectory) -> set[str]:
        """Every revision applied when the database is at ``heads``.

        Raises:
            MigrationError: The database names a revision no app has.
        """
        applied = ancestors(script, heads)
        for revision_id in sorted(applied):
            if _get(script, revision_id) is None:
                raise MigrationError(self._unknown_revision_message(revision_id))
        return applied

    def tidy_version_table(self, connection: Connection, script: ScriptDirectory) -> None:
        """Forget recorded revisions that another recorded revision builds on.

        Alembic expects the version table to hold heads only. Squashing an app can turn a
        recorded head into a dependency of another app's recorded revision; nothing is
        unapplied by forgetting it, since the other revision implies it.
        """
        from sqlalchemy import column, table

        recorded = self.current_heads(connection)
        implied: set[str] = set()
        for revision_id in recorded:
            revision = _get(script, revision_id)
            if revision is not None:
                implied |= ancestors(script, _parents(revision))
        versions = table("alembic_version", column("version_num"))
        for revision_id in recorded & implied:
            connection.execute(versions.delete().where(versions.c.version_num == revision_id))

    def _unknown_revision_message(self, revision_id: str) -> str:
        for app in self.apps.values():
            for old in sorted(app.directory.glob(f"_squashed_*/*{revision_id}*.py")):
                return (
                    f"The database is at revision {revision_id!r} of app {app.label!r}, which "
                    f"was squashed into {old.parent.name.removeprefix('_squashed_')}: migrate "
                    f"this database with the old revisions (in {old.parent}) first."
                )
        return (
            f"The database is at revision {revision_id!r}, which no installed app has; "
            "restore the revision file, or reinstall the app that owns it."
        )

    def pending(self, applied: set[str], script: ScriptDirectory) -> list[Script]:
        """Revisions not applied yet, in an order ``upgrade heads`` may apply them."""
        return _oldest_first([r for r in script.walk_revisions() if r.revision not in applied])

    def unapply_plan(
        self, applied: set[str], revisions: Iterable[str], script: ScriptDirectory
    ) -> list[Script]:
        """What unapplying ``revisions`` takes: them and every applied revision built on them.

        Returns:
            Revisions newest first, the order they are unapplied in.
        """
        doomed = set(revisions) & applied
        changed = True
        while changed:
            changed = False
            for revision in script.walk_revisions():
                if (
                    revision.revision in applied
                    and revision.revision not in doomed
                    and doomed & set(_parents(revision))
                ):
                    doomed.add(revision.revision)
                    changed = True
        ordered = _oldest_first([r for r in script.walk_revisions() if r.revision in doomed])
        return list(reversed(ordered))


def multiple_heads_message(label: str, heads: Sequence[str]) -> str:
    """The error for an app whose branch has forked."""
    return (
        f"App {label!r} has {len(heads)} migration heads ({', '.join(heads)}): two revisions "
        f"were made on the same parent. Merge them with "
        f"`manage.py makemigrations --merge {label}`."
    )


def ancestors(script: ScriptDirectory, revisions: Iterable[str]) -> set[str]:
    """``revisions`` and every revision they build on (parents and dependencies)."""
    found: set[str] = set()
    pending = list(revisions)
    while pending:
        revision_id = pending.pop()
        if revision_id in found:
            continue
        found.add(revision_id)
        revision = _get(script, revision_id)
        if revision is not None:
            pending.extend(_parents(revision))
    return found


def _escape(value: str) -> str:
    """ConfigParser treats ``%`` as interpolation."""
    return value.replace("%", "%%")


def _get(script: ScriptDirectory, revision_id: str) -> Script | None:
    try:
        return script.get_revision(revision_id)
    except AlembicCommandError:
        return None


def _parents(revision: Script) -> tuple[str, ...]:
    """Revisions that must be applied before this one: its parents and its dependencies."""
    return all_down_revisions(revision)


def _oldest_first(revisions: Iterable[Script]) -> list[Script]:
    """Revisions sorted so that each comes after everything it builds on (stable by date)."""
    chosen = {revision.revision: revision for revision in revisions}
    ordered: list[Script] = []
    placed: set[str] = set()

    def place(revision: Script) -> None:
        if revision.revision in placed:
            return
        placed.add(revision.revision)
        for parent in _parents(revision):
            if parent in chosen:
                place(chosen[parent])
        ordered.append(revision)

    for revision in sorted(chosen.values(), key=lambda item: Path(item.path).name):
        place(revision)
    return ordered
