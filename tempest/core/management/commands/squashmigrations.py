"""Collapse one app's migrations into a single revision."""

from __future__ import annotations

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.migrating import migration_errors, project_migrations, relative


@click.command()
@click.argument("app_label")
@click.option("-m", "--name", "message", help="The new revision's message (file name).")
@click.option("--noinput", "--no-input", is_flag=True, help="Do not ask for confirmation.")
def command(app_label: str, message: str | None, noinput: bool) -> None:
    """Collapse one app's migrations into a single revision.

    The new revision is generated from the models and keeps the id of the app's latest
    revision, so databases that have every migration applied need nothing. The old files
    move to <app>/migrations/_squashed_<id>/. Databases that are behind must be migrated
    with the old files before they can use the squashed revision.
    """
    from tempest.db.migrations.squash import plan_squash, squash

    with migration_errors():
        migrations = project_migrations()
        plan = plan_squash(migrations, migrations.app(app_label).label)
        echo(f"Squash {len(plan.revisions)} revisions of {plan.label!r} into {plan.head}:")
        for revision in plan.revisions:
            echo(f"  {revision.revision} {revision.doc}")
        for path in plan.rewired:
            echo(f"Revision {relative(path)} will depend on {plan.head} instead.")
        for step in plan.data_steps:
            echo(
                f"Warning: {step} runs its own statements; the squashed revision does not "
                "repeat them. Copy them into it if new databases need them.",
                level=0,
                err=True,
            )
        if not noinput and not click.confirm("Squash them?", default=False):
            raise CommandError("Squash cancelled; nothing was changed.")
        squash(migrations, plan, message)
    assert plan.path is not None and plan.backup is not None
    echo(f"Wrote {relative(plan.path)}")
    echo(f"Moved the old revisions to {relative(plan.backup)}/")
