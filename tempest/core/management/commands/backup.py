"""Back up the project database to a file (pg_dump for PostgreSQL, a copy for SQLite)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.progress import progress


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file (default: backups/<database>_<UTC time>.dump or .sqlite3). "
    "On PostgreSQL, a name ending in .sql makes a plain SQL dump.",
)
def command(output: Path | None) -> None:
    """Back up the project database to a file (pg_dump for PostgreSQL, a copy for SQLite).

    PostgreSQL needs pg_dump (package postgresql-client); the backup is in pg_dump's
    custom format, or plain SQL when the file ends in .sql. SQLite is copied with its
    online backup API, which is safe while the application writes. Restore it with
    `manage.py restore FILE`.
    """
    from tempest.conf import settings
    from tempest.db.backup import (
        BackupError,
        backup,
        database_target,
        default_backup_path,
        find_client,
    )

    try:
        target = database_target(settings.DATABASE_URL)
        if target.backend == "postgresql":
            find_client("pg_dump")  # before saying that the backup starts
        destination = output if output is not None else default_backup_path(target)
        echo(f"Backing up {target.safe_url} to {destination}...")
        started = time.monotonic()
        with progress() as status:
            backup(target, destination, progress=status.update if status.enabled else None)
    except BackupError as error:
        raise CommandError(str(error)) from error
    elapsed = time.monotonic() - started
    size = format_size(destination.stat().st_size)
    echo(f"Backup finished: {destination} ({size} in {elapsed:.2f}s).")


def format_size(size: int) -> str:
    """A file size for people: ``512 bytes``, ``24.0 kB``, ``3.1 MB``.

    Args:
        size: Bytes.
    """
    if size < 1000:
        return f"{size} bytes"
    value = float(size)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 1000 or unit == "TB":
            break
    return f"{value:.1f} {unit}"
