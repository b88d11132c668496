"""Run the scheduler: it kicks the periodic tasks of every app's tasks.py on time."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.tasking import (
    discovered_tasks,
    log_level_option,
    project_broker,
    shared_broker_url,
)

if TYPE_CHECKING:
    from tempest.tasks.scheduler import AsyncTaskScheduler


@click.command()
@log_level_option("the scheduler's")
def command(log_level: str) -> None:
    """Kick every @periodic task into the broker when it is due; workers run them.

    Run exactly one scheduler per deployment: each running scheduler sends every due
    task, so two schedulers run each periodic task twice. It stops on SIGTERM or SIGINT
    and exits 0.
    """
    from tempest.tasks.registry import bind_all
    from tempest.tasks.scheduler import AsyncTaskScheduler

    shown_url = shared_broker_url("scheduler")
    tasks = discovered_tasks()
    periodic = [item for item in tasks if item.schedules]
    if not periodic:
        raise CommandError(
            "No periodic tasks: no installed app's tasks.py has a @periodic function; "
            "add one, or do not run the scheduler."
        )
    broker = project_broker()
    bind_all(broker, tasks)
    scheduler = AsyncTaskScheduler(broker)
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="[%(asctime)s][%(name)s][%(levelname)-7s] %(message)s",
    )
    echo(f"Scheduling {len(periodic)} periodic task(s) on {shown_url}:")
    for item in periodic:
        echo(f"  {item.task_name}: {'; '.join(s.describe() for s in item.schedules)}")
    asyncio.run(_run(scheduler, shown_url))


async def _run(scheduler: AsyncTaskScheduler, shown_url: str) -> None:
    from taskiq.cli.scheduler.run import SchedulerLoop

    from tempest.core.management.tasking import CONNECT_TIMEOUT_SECONDS

    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, main.cancel)
    try:
        await asyncio.wait_for(scheduler.connect(), CONNECT_TIMEOUT_SECONDS)
    except Exception as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(
            f"Cannot reach the task broker at {shown_url}: {reason}. Is it running, and is "
            "TASKIQ_BROKER_URL right?"
        ) from error
    try:
        await SchedulerLoop(scheduler.scheduler).run()
    except asyncio.CancelledError:
        echo("Scheduler stopped.")
    finally:
        await scheduler.disconnect()
