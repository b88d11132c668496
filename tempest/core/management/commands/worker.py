"""Run background workers: they execute the tasks of every app's tasks.py."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.tasking import (
    check_reachable,
    discovered_tasks,
    log_level_option,
    project_broker,
    shared_broker_url,
)

if TYPE_CHECKING:
    pass


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Worker processes; each runs many async tasks at once.",
)
@click.option(
    "--queue",
    metavar="NAME",
    help="Consume this queue instead of TASKIQ_QUEUE_NAME (TaskIQ's default: taskiq).",
)
@click.option(
    "--max-async-tasks",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Tasks one worker process runs at the same time.",
)
@click.option(
    "--grace-period",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM/SIGINT, seconds to let running tasks finish before stopping anyway.",
)
@log_level_option("the workers'")
def command(
    workers: int, queue: str | None, max_async_tasks: int, grace_period: float, log_level: str
) -> None:
    """Run TaskIQ workers over every task declared in the installed apps' tasks.py.

    Each worker process connects the project's database and acknowledges a message only
    after its task ran, so a task whose worker dies is delivered again: make tasks
    idempotent. On SIGTERM or SIGINT the workers stop taking tasks, let the running ones
    finish (up to --grace-period), and the command exits 0.
    """
    from taskiq.acks import AcknowledgeType
    from taskiq.cli.common_args import LogLevel
    from taskiq.cli.worker.args import WorkerArgs
    from taskiq.cli.worker.run import run_worker

    from tempest.core.logging import configure_logging_from_settings
    from tempest.tasks.worker import QUEUE_ENVIRONMENT_VARIABLE

    # Ours, not TaskIQ's basicConfig: LOG_JSON, LOG_DIR (each worker process sets it up
    # again in worker_broker()).
    configure_logging_from_settings()
    shown_url = shared_broker_url("worker")
    tasks = discovered_tasks()
    check_reachable(project_broker(queue), shown_url)
    if queue:
        os.environ[QUEUE_ENVIRONMENT_VARIABLE] = queue
    names = ", ".join(item.task_name for item in tasks) or "none"
    echo(f"Starting {workers} worker process(es) on {shown_url}; tasks: {names}.")
    args = WorkerArgs(
        broker="tempest.tasks.worker:worker_broker",
        modules=[],
        app_dir=os.getcwd(),
        workers=workers,
        max_async_tasks=max_async_tasks,
        wait_tasks_timeout=grace_period,
        ack_type=AcknowledgeType.WHEN_SAVED,
        log_level=LogLevel[log_level.upper()],
        configure_logging=False,
    )
    status = run_worker(args)
    if status not in (None, 0):
        raise CommandError(
            "The worker processes kept failing and were not restarted; see the log above."
        )
