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
    from tempest.tasks.lease import SchedulerLease
    from tempest.tasks.scheduler import AsyncTaskScheduler


@click.command()
@log_level_option("the scheduler's")
def command(log_level: str) -> None:
    """Kick every @periodic task into the broker when it is due; workers run them.

    Only the scheduler holding the lease (in Redis, or a PostgreSQL advisory lock; see
    SCHEDULER_LOCK_URL) kicks tasks; a second one waits as a standby and takes over
    when the first dies. Without a lease backend (SQLite and RabbitMQ) run exactly one.
    It stops on SIGTERM or SIGINT and exits 0.
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
    lease = _lease()
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
    if lease is None:
        echo(
            "Warning: no lease backend (TASKIQ_BROKER_URL is not Redis and DATABASE_URL is "
            "not PostgreSQL): run exactly one scheduler, or set SCHEDULER_LOCK_URL.",
            err=True,
        )
    asyncio.run(_run(scheduler, shown_url, lease))


def _lease() -> SchedulerLease | None:
    from tempest.exceptions.framework import ImproperlyConfigured
    from tempest.tasks.lease import scheduler_lease

    try:
        return scheduler_lease()
    except (ImproperlyConfigured, ImportError) as error:
        raise CommandError(str(error)) from error


async def _lead(scheduler: AsyncTaskScheduler, lease: SchedulerLease) -> None:
    """Schedule while holding the lease; on losing it, stop and wait for it again."""
    from taskiq.cli.scheduler.run import SchedulerLoop

    while True:
        echo(f"Waiting for the scheduler lease ({lease.description}).")
        await lease.acquire()
        echo("Holding the scheduler lease: scheduling.")
        loop_task = asyncio.create_task(SchedulerLoop(scheduler.scheduler).run())
        watch_task = asyncio.create_task(lease.watch())
        try:
            done, _ = await asyncio.wait(
                {loop_task, watch_task}, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for child in (loop_task, watch_task):
                child.cancel()
            await asyncio.gather(loop_task, watch_task, return_exceptions=True)
        if loop_task in done:
            loop_task.result()  # the loop only ends by raising
        echo("Lost the scheduler lease: stopped scheduling until it is held again.", err=True)


async def _run(scheduler: AsyncTaskScheduler, shown_url: str, lease: SchedulerLease | None) -> None:
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
        if lease is None:
            await SchedulerLoop(scheduler.scheduler).run()
        else:
            await _lead(scheduler, lease)
    except asyncio.CancelledError:
        echo("Scheduler stopped.")
    finally:
        if lease is not None:
            await lease.release()
        await scheduler.disconnect()
