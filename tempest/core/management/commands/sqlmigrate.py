"""Print the SQL of one migration, without running it."""

from __future__ import annotations

import io

import click

from tempest.core.management.base import echo
from tempest.core.management.migrating import migration_errors, project_migrations


@click.command()
@click.argument("app_label")
@click.argument("revision")
@click.option("--backwards", is_flag=True, help="The SQL that unapplies the revision.")
def command(app_label: str, revision: str, backwards: bool) -> None:
    """Print the SQL of one migration, without running it.

    REVISION is a revision id of the app, or its first characters. The SQL is written for
    the project database's dialect.
    """
    from alembic import command as alembic

    from tempest.db.internals import all_down_revisions

    with migration_errors():
        migrations = project_migrations()
        script = migrations.script()
        chosen = migrations.resolve(migrations.app(app_label).label, revision, script)
        parents = all_down_revisions(chosen)
        start = parents[0] if len(parents) == 1 else "base"
        output = io.StringIO()
        config = migrations.config(output=output)
        if backwards:
            alembic.downgrade(config, f"{chosen.revision}:{start}", sql=True)
        else:
            alembic.upgrade(config, f"{start}:{chosen.revision}", sql=True)
    echo(output.getvalue().rstrip(), level=0)
