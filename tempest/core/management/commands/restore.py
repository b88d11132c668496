"""Restore the project database from a file made by backup (replaces its tables)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.progress import progress


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def command(file: Path, yes: bool) -> None:
    """Restore the project database from a file made by backup (replaces its tables).

    The file is checked before anything changes: a missing file, a file that is not a
    backup, or a damaged one is refused. PostgreSQL runs pg_restore (a .dump archive)
    or psql (a .sql file) in one transaction, so a failed restore changes nothing; tables
    that are not in the backup are left alone. SQLite replaces the whole database file.
    Asks for confirmation unless --yes.
    """
    from tempest.conf import settings
    from tempest.db.backup import BackupError, database_target, open_backup, restore

    try:
        target = database_target(settings.DATABASE_URL)
        checked = open_backup(target, file)
    except BackupError as error:
        raise CommandError(str(error)) from error
    if not yes:
        which = "" if target.backend == "sqlite" else " that the backup holds"
        click.confirm(
            f"Restore {file}? This replaces every table of {target.safe_url}{which}.",
            abort=True,
        )
    echo(f"Restoring {target.safe_url} from {file}...")
    started = time.monotonic()
    try:
        with progress() as status:
            restore(target, checked, progress=status.update if status.enabled else None)
    except BackupError as error:
        raise CommandError(str(error)) from error
    echo(f"Restore finished: {target.safe_url} from {file} in {time.monotonic() - started:.2f}s.")
