"""List each app's migrations and whether the database has them applied."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tempest.core.management.base import echo
from tempest.core.management.migrating import migration_errors, project_migrations

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


@click.command()
@click.argument("app_labels", nargs=-1)
def command(app_labels: tuple[str, ...]) -> None:
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
        for label in labels:
            echo(label, level=0)
            revisions = migrations.revisions(label, script)
            if not revisions:
                echo(" (no migrations)", level=0)
            for revision in revisions:
                mark = "X" if revision.revision in done else " "
                message = (revision.doc or "").strip().splitlines()[0] if revision.doc else ""
                echo(f" [{mark}] {revision.revision} {message}", level=0)
