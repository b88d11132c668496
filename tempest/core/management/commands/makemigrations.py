"""Write new migrations for the apps whose models changed."""

from __future__ import annotations

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.migrating import migration_errors, project_migrations, relative


@click.command()
@click.argument("app_labels", nargs=-1)
@click.option("-m", "--name", "message", help="The revision message (file name).")
@click.option("--empty", is_flag=True, help="Write an empty revision for hand-written steps.")
@click.option(
    "--check", is_flag=True, help="Exit 1 when models and migrations differ; write nothing."
)
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--merge", is_flag=True, help="Merge the two heads of an app's migrations.")
def command(
    app_labels: tuple[str, ...],
    message: str | None,
    empty: bool,
    check: bool,
    dry_run: bool,
    merge: bool,
) -> None:
    """Write new migrations for the apps whose models changed.

    Each app's revisions go to <app>/migrations. The models are compared with the schema
    the existing migrations build, made in a scratch database of the project's dialect and
    dropped afterwards; the project database is not used, so it needs no migrate first.
    """
    from tempest.db.migrations.autogen import make_revisions, merge_heads

    with migration_errors():
        migrations = project_migrations()
        if merge:
            merged = merge_heads(migrations, app_labels)
            for revision in merged:
                echo(f"Merged the heads of {revision.label!r}: {relative(revision.path)}")
            if not merged:
                echo("No app has two heads; nothing to merge.")
            return
        if not migrations.apps and not app_labels:
            echo("No installed app has models; nothing to do.")
            return
        planned = make_revisions(
            migrations, app_labels, message=message, empty=empty, write=not (check or dry_run)
        )
    if not planned:
        scope = f" in app(s) {', '.join(app_labels)}" if app_labels else ""
        echo(f"No changes detected{scope}.")
        return
    for revision in planned:
        echo(f"Migrations for {revision.label!r}:", level=0 if check else 1)
        where = relative(revision.path) if revision.path else f"(new) {revision.message}"
        echo(f"  {where}", level=0 if check else 1)
        for operation in revision.operations or ["(no operations)"]:
            echo(f"    - {operation}", level=0 if check else 1)
        if revision.depends_on:
            echo(f"    depends on {', '.join(revision.depends_on)}", level=2)
    if check:
        raise CommandError(
            "Models and migrations differ; run `manage.py makemigrations` and commit the result."
        )
