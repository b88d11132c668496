"""Run the message handlers of every app's subscribers.py until stopped."""

from __future__ import annotations

import asyncio
import signal

import click

from tempest.core.management.base import CommandError, echo


@click.command()
async def command() -> None:
    """Consume RabbitMQ messages with the handlers of every installed app's subscribers.py.

    Connects to RABBITMQ_URL with the database connected. SIGTERM or CONTROL-C stops
    taking messages, lets the ones in progress finish, and exits with status 0.
    """
    from tempest.conf import settings
    from tempest.conf.masking import mask_url
    from tempest.core.logging import configure_logging_from_settings
    from tempest.exceptions.framework import ImproperlyConfigured
    from tempest.queue.project import (
        connect_or_explain,
        get_consumer,
        stop_queue,
        subscriber_routers,
    )

    try:
        routers = subscriber_routers()
    except ImproperlyConfigured as error:
        raise CommandError(str(error)) from error
    if not routers:
        raise CommandError(
            "No subscribers to run: no installed app has a subscribers.py. Declare handlers "
            "in <app>/subscribers.py on `router = RabbitRouter()` with @router.subscriber(...)."
        )
    from tempest.core.tracing import flush_tracing, setup_tracing_from_settings

    setup_tracing_from_settings()  # TRACING_ENABLED: handlers continue the publisher's trace
    manager = get_consumer()
    # After the broker is built: FastStream's loggers exist now and are routed too.
    configure_logging_from_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        try:
            await connect_or_explain(manager)
        except ConnectionError as error:
            raise CommandError(str(error)) from error
        echo(f"Connected to {mask_url(settings.RABBITMQ_URL)}.")
        for config, router in routers:
            queues = ", ".join(_queue_name(subscriber) for subscriber in router.subscribers)
            echo(f"  {config.label}: {queues}")
        echo("Consuming messages. Quit the consumer with CONTROL-C.")
        await stop.wait()
        echo("Stopping: finishing the messages in progress...")
        await stop_queue()
        flush_tracing()
        echo("Stopped.")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await stop_queue()


def _queue_name(subscriber: object) -> str:
    queue = getattr(subscriber, "queue", None)
    return str(getattr(queue, "name", None) or subscriber)
