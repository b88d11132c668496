"""Open the database's own shell (psql or sqlite3) on the project database."""

from __future__ import annotations

import os
import sys

import click

from tempest.core.management.base import CommandError, echo


@click.command()
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def command(arguments: tuple[str, ...]) -> None:
    """Open the database's own shell (psql or sqlite3) on the project database.

    Connects with DATABASE_URL; a PostgreSQL password goes in PGPASSWORD, not on the
    command line. Arguments after `--` go to the client, e.g.
    `manage.py dbshell -- -c "select 1"` (psql) or `manage.py dbshell -- .tables` (sqlite3).
    The command exits with the client's status.
    """
    from tempest.conf import settings
    from tempest.db.backup import BackupError, client_command, database_target

    try:
        client = client_command(database_target(settings.DATABASE_URL), arguments)
    except BackupError as error:
        raise CommandError(str(error)) from error
    echo(client.display(), level=2, err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # no exec on Windows: run it and pass its status on
        raise click.exceptions.Exit(_run_and_wait(client.executable, client.argv, client.env))
    try:
        os.execve(client.executable, client.argv, client.env)
    except OSError as error:
        raise CommandError(
            f"Cannot run {client.executable}: {error.strerror or error}; reinstall it."
        ) from error


def _run_and_wait(executable: str, argv: list[str], env: dict[str, str]) -> int:
    """Run the client in a child process; Ctrl-C belongs to it (it cancels a query)."""
    import signal
    import subprocess

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return subprocess.run(argv, executable=executable, env=env, check=False).returncode
    finally:
        signal.signal(signal.SIGINT, previous)
