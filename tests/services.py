"""Helpers for tests that drive real services: a scratch PostgreSQL database, TaskIQ queues."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def plain_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def execute(url: str, statement: str) -> None:
    """Run one statement on the PostgreSQL database of ``url``, outside a transaction."""
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def fetch_rows(url: str, query: str) -> list[dict[str, Any]]:
    """The rows of ``query`` on the PostgreSQL database of ``url``, as dicts."""
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(url))
    try:
        return [dict(record) for record in await connection.fetch(query)]
    finally:
        await connection.close()


@contextmanager
def scratch_database(server_url: str, name: str) -> Iterator[str]:
    """Create the database ``name`` on the server of ``server_url``; yield its URL; drop it."""
    base, _, _old = server_url.rpartition("/")
    asyncio.run(execute(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def kick_task(amqp_url: str, queue: str, task_name: str, *args: object) -> None:
    """Send a task by name over RabbitMQ, as another service would."""
    from taskiq.kicker import AsyncKicker

    from tempest.tasks import make_broker

    broker = make_broker(amqp_url, queue_name=queue)
    await broker.startup()
    try:
        kicker: AsyncKicker[..., object] = AsyncKicker(task_name, broker, {})
        await kicker.kiq(*args)
    finally:
        await broker.shutdown()


async def delete_task_queue(amqp_url: str, queue: str, *more_queues: str) -> None:
    """Delete a TaskIQ queue, its dead-letter queue and its exchange (and ``more_queues``)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dead_letter", *more_queues):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)
