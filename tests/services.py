"""Helpers for tests that drive real services: a scratch PostgreSQL database, TaskIQ queues,
a private ``redis-server`` a test may kill (:class:`PrivateRedis`, fixture ``private_redis``)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.helpers import free_port


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


# -- a Redis of one test alone ---------------------------------------------------------------

_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class PrivateRedis:
    """A ``redis-server`` of one test alone, on a free port (never the shared one)."""

    def __init__(self, binary: str, cwd: Any) -> None:
        self.binary = binary
        self.cwd = cwd
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (again, on the same port) and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", *_NO_PERSISTENCE],
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; a no-op when it is not running."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[PrivateRedis]:
    """A private ``redis-server`` the test may kill and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
