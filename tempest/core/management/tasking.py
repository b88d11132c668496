"""What the ``worker``, ``scheduler`` and ``tasks`` commands share.

Settings and discovery errors become one-line :class:`CommandError` messages, and a
broker that does not answer is reported once, before any worker process starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tempest.core.management.base import CommandError
from tempest.exceptions.framework import ImproperlyConfigured

if TYPE_CHECKING:
    from taskiq import AsyncBroker

    from tempest.tasks.registry import TempestTask

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_Command = TypeVar("_Command", bound=Callable[..., Any])


def log_level_option(whose: str) -> Callable[[_Command], _Command]:
    """The ``--log-level`` option; ``whose`` says whose log it sets ("the workers'")."""
    option: Callable[[_Command], _Command] = click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default="INFO",
        show_default=True,
        help=f"Level of {whose} log.",
    )
    return option


CONNECT_TIMEOUT_SECONDS = 10.0
"""How long ``worker`` and ``scheduler`` wait for the broker before giving up."""


def shared_broker_url(command: str) -> str:
    """TASKIQ_BROKER_URL, refused when it is ``memory://`` (nothing to share).

    Raises:
        CommandError: The broker is the in-memory one.
    """
    from tempest.conf.masking import mask_url
    from tempest.tasks.brokers import broker_scheme
    from tempest.tasks.project import task_settings

    url = task_settings()[0]
    if broker_scheme(url) == "memory":
        raise CommandError(
            f"manage.py {command} needs a shared broker, but TASKIQ_BROKER_URL is memory:// "
            "(tasks run inside the process that sends them). Set TASKIQ_BROKER_URL to an "
            "amqp:// or redis:// URL."
        )
    return mask_url(url)


def project_broker(queue_name: str | None = None) -> AsyncBroker:
    """A new broker from settings, errors turned into one-line CommandErrors."""
    from tempest.tasks.project import build_broker

    try:
        return build_broker(queue_name=queue_name)
    except (ImproperlyConfigured, ImportError) as error:
        raise CommandError(str(error)) from error


def discovered_tasks() -> list[TempestTask[Any, Any]]:
    """Every app's tasks, import errors turned into one-line CommandErrors."""
    from tempest.tasks.discovery import discover_tasks

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
