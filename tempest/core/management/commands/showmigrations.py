"""List each app's migrations and whether the database has them applied."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from tempest.core.management.base import echo
from tempest.core.management.migrating import migration_errors, project_migrations

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@click.command()
@click.argument("app_labels", nargs=-1)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {app, revision, message, applied}, oldest first per app.",
)
def command(app_labels: tuple[str, ...], as_json: bool) -> None:
    """List each app's migrations and whether the database has them applied.

    [X] applied, [ ] pending; newest last.
    """
    with migration_errors():
        migrations = project_migrations()
        labels = [migrations.app(label).label for label in app_labels] or list(migrations.apps)
        script = migrations.script()

        def applied(connection: Connection) -> set[str]:
            return migrations.applied(migrations.current_heads(connection), script)

        done = migrations.connect(applied)
        if as_json:
            rows = [
                {
                    "app": label,
                    "revision": revision.revision,
                    "message": _message(revision.doc),
                    "applied": revision.revision in done,
                }
                for label in labels
                for revision in migrations.revisions(label, script)
            ]
            click.echo(json.dumps(rows, indent=2))
            return
        for label in labels:
            echo(label, level=0)
            revisions = migrations.revisions(label, script)
            if not revisions:
                echo(" (no migrations)", level=0)
            for revision in revisions:
                mark = "X" if revision.revision in done else " "
                echo(f" [{mark}] {revision.revision} {_message(revision.doc)}", level=0)


def _message(doc: str | None) -> str:
    """The first line of a revision's message."""
    lines = (doc or "").strip().splitlines()
    return lines[0] if lines else ""
