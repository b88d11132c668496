"""List the background tasks of the installed apps and their schedules."""

from __future__ import annotations

import click

from tempest.core.management.base import echo
from tempest.core.management.tasking import discovered_tasks


@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {name, app, schedules}; schedules is a list of strings.",
)
def command(as_json: bool) -> None:
    """List every task declared in the installed apps' tasks.py: name, app and schedule.

    The name is what workers know a task by. Does not connect to the broker.
    """
    from tempest.apps import apps

    tasks = discovered_tasks()
    if as_json:
        import json

        listed = []
        for item in tasks:
            config = apps.get_containing_app_config(item.module)
            listed.append(
                {
                    "name": item.task_name,
                    "app": config.label if config is not None else None,
                    "schedules": [schedule.describe() for schedule in item.schedules],
                }
            )
        click.echo(json.dumps(listed, indent=2))
        return
    if not tasks:
        echo("No tasks: no installed app has a tasks.py with @task or @periodic functions.")
        return
    rows = [("TASK", "APP", "SCHEDULE")]
    for item in tasks:
        config = apps.get_containing_app_config(item.module)
        app = config.label if config is not None else "-"
        schedule = "; ".join(s.describe() for s in item.schedules) or "-"
        rows.append((item.task_name, app, schedule))
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    for name, app, schedule in rows:
        echo(f"{name.ljust(widths[0])}  {app.ljust(widths[1])}  {schedule}", level=0)
