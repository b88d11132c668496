"""Apply (or unapply) migrations so the database matches the apps' revisions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.migrating import migration_errors, project_migrations
from tempest.core.management.progress import progress
from tempest.core.management.serving import run_checks_before_serving

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


_REPORTED_BY_MIGRATE = frozenset(
    {"tempest.E020", "tempest.E021", "tempest.E024", "tempest.W023", "tempest.W025"}
)
"""Checks whose problem ``migrate`` itself reports (or fixes) in one line: the state of
the migrations, and a database that cannot be reached (tempest.W025)."""


@click.command()
@click.argument("app_label", required=False)
@click.argument("target", required=False)
@click.option("--plan", "show_plan", is_flag=True, help="Show what would run; run nothing.")
@click.option("--fake", is_flag=True, help="Record the revisions as applied without running them.")
@click.option(
    "--allow-destructive", is_flag=True, help="Run revisions that drop tables or columns."
)
@click.option("--noinput", "--no-input", is_flag=True, help="Do not ask for confirmation.")
@click.option("--skip-checks", is_flag=True, help="Do not run the system checks first.")
def command(
    app_label: str | None,
    target: str | None,
    show_plan: bool,
    fake: bool,
    allow_destructive: bool,
    noinput: bool,
    skip_checks: bool,
) -> None:
    """Apply (or unapply) migrations so the database matches the apps' revisions.

    Without arguments every app is brought to its latest revision. APP alone migrates
    that app (and what it depends on); APP TARGET moves it to a revision id (a prefix is
    enough), forwards or backwards; APP zero unapplies all of its revisions, with every
    revision of other apps that depends on them (you confirm the plan first). The system
    checks run first, as before serving; an error stops before the database is touched.
    """
    from tempest.db.migrations.executor import apply_plan, make_plan

    if not skip_checks:
        run_checks_before_serving("migrating", ignore=_REPORTED_BY_MIGRATE, announce=False)

    with migration_errors():
        migrations = project_migrations()
        if app_label is not None:
            migrations.app(app_label)

        def work(connection: Connection) -> None:
            plan = make_plan(migrations, connection, app_label, target)
            if not show_plan:
                migrations.tidy_version_table(connection, migrations.script())
            if not plan.steps:
                echo(
                    "No migrations to apply."
                    if plan.direction == "upgrade"
                    else "Nothing to unapply."
                )
                return
            verb = "Apply" if plan.direction == "upgrade" else "Unapply"
            if show_plan or plan.direction == "downgrade":
                echo("Planned operations:", level=0 if show_plan else 1)
                for step in plan.steps:
                    echo(f"  {verb} {step}", level=0 if show_plan else 1)
                for operation in plan.destructive():
                    echo(f"    destructive: {operation}", level=0 if show_plan else 1)
            if show_plan:
                return
            if plan.direction == "downgrade" and not noinput:
                others = sorted({step.label for step in plan.other_apps()})
                note = f" (with revisions of {', '.join(others)})" if others else ""
                if not click.confirm(
                    f"Unapply {len(plan.steps)} revision(s){note}? This can lose data.",
                    default=False,
                ):
                    raise CommandError("Migration cancelled; nothing was changed.")
            echo("Running migrations:")
            with progress(len(plan.steps)) as status:
                pending = iter(plan.steps)

                def next_step() -> None:
                    step = next(pending, None)
                    if step is not None:
                        status.step(f"{verb}ing {step}")

                def done(line: str) -> None:
                    status.echo(line)
                    next_step()

                next_step()
                apply_plan(
                    migrations,
                    connection,
                    plan,
                    fake=fake,
                    allow_destructive=allow_destructive,
                    progress=done,
                )

        migrations.connect(work)
