"""Run background workers: they execute the tasks of every app's tasks.py."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

import click

from tempest.core.management.base import CommandError, echo
from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from tempest.tasks.registry import TempestTask

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


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
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Level of the workers' log.",
)
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

    from tempest.tasks.worker import QUEUE_ENVIRONMENT_VARIABLE

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
    )
    status = run_worker(args)
    if status not in (None, 0):
        raise CommandError(
            "The worker processes kept failing and were not restarted; see the log above."
        )


CONNECT_TIMEOUT_SECONDS = 10.0
"""How long ``worker`` and ``scheduler`` wait for the broker before giving up."""


def shared_broker_url(command: str) -> str:
    """TASKIQ_BROKER_URL, refused when it is ``memory://`` (nothing to share).

    Raises:
        CommandError: The broker is the in-memory one.
    """
    from tempest.tasks.brokers import broker_scheme, redact_url
    from tempest.tasks.project import task_settings

    url = task_settings()[0]
    if broker_scheme(url) == "memory":
        raise CommandError(
            f"manage.py {command} needs a shared broker, but TASKIQ_BROKER_URL is memory:// "
            "(tasks run inside the process that sends them). Set TASKIQ_BROKER_URL to an "
            "amqp:// or redis:// URL."
        )
    return redact_url(url)


def project_broker(queue_name: str | None = None) -> AsyncBroker:
    """A new broker from settings, errors turned into one-line CommandErrors."""
    from tempest.tasks.project import build_broker

    try:
        return build_broker(queue_name=queue_name)
    except (ImproperlyConfigured, ImportError) as error:
        raise CommandError(str(error)) from error


def discovered_tasks() -> list[TempestTask[Any, Any]]:
    """Every app's tasks, import errors turned into one-line CommandErrors."""
    from tempest.tasks.project import discover_tasks

    try:
        return discover_tasks()
    except ImproperlyConfigured as error:
        raise CommandError(str(error).splitlines()[0]) from error


def check_reachable(broker: AsyncBroker, shown_url: str) -> None:
    """Start and stop ``broker`` once, as a client, to fail fast when it is unreachable.

    Raises:
        CommandError: The broker does not answer within :data:`CONNECT_TIMEOUT_SECONDS`.
    """

    async def probe() -> None:
        await asyncio.wait_for(broker.startup(), CONNECT_TIMEOUT_SECONDS)
        await broker.shutdown()

    # The connection libraries log each failed attempt; the CommandError says it once.
    quiet = [logging.getLogger(name) for name in ("aio_pika", "aiormq", "redis")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        asyncio.run(probe())
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = reason or type(error).__name__
        raise CommandError(
            f"Cannot reach the task broker at {shown_url}: {reason}. Is it running, and is "
            "TASKIQ_BROKER_URL right?"
        ) from error
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
