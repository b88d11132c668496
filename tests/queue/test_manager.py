"""AsyncBrokerManager against the real RabbitMQ: lifecycle, publish guard, subscribers."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from faststream.rabbit import RabbitBroker
from pydantic import BaseModel

from tempest.queue import AsyncBrokerManager
from tests.helpers import PYTHON, REPO
from tests.queue.conftest import QueueName

pytestmark = pytest.mark.anyio


class OrderPaid(BaseModel):
    order_id: int
    user_id: str


async def test_lifecycle_is_idempotent_and_reported(amqp_url: str) -> None:
    queue = AsyncBrokerManager(RabbitBroker(amqp_url))
    assert queue.broker.__class__ is RabbitBroker
    assert not queue.is_connected
    assert await queue.health_check() is False

    await queue.connect()
    await queue.connect()
    assert queue.is_connected
    assert await queue.health_check() is True
    dependency = queue.broker_dependency()
    assert await anext(dependency) is queue.broker

    await queue.disconnect()
    await queue.disconnect()
    assert not queue.is_connected
    assert await queue.health_check() is False

    async with queue.lifespan() as entered:
        assert entered is queue
        assert queue.is_connected
    assert not queue.is_connected


async def test_publish_before_connect_raises(amqp_url: str) -> None:
    queue = AsyncBrokerManager(RabbitBroker(amqp_url))
    with pytest.raises(RuntimeError, match="not connected; await connect"):
        await queue.publish({"order_id": 1}, queue="nowhere")
    with pytest.raises(RuntimeError, match="not connected"):
        await anext(queue.broker_dependency())


async def test_connect_to_a_closed_port_fails_and_stays_disconnected() -> None:
    from tests.helpers import free_port

    queue = AsyncBrokerManager(RabbitBroker(f"amqp://guest:guest@127.0.0.1:{free_port()}/"))
    with pytest.raises(Exception, match=r"(?i)connect"):
        await queue.connect()
    assert not queue.is_connected
    assert await queue.health_check() is False


async def test_subscriber_receives_a_pydantic_message(amqp_url: str, queue_name: QueueName) -> None:
    name = queue_name("orders.paid")
    broker = RabbitBroker(amqp_url)
    received: asyncio.Queue[OrderPaid] = asyncio.Queue()

    @broker.subscriber(name)
    async def handle(message: OrderPaid) -> None:
        await received.put(message)

    async with AsyncBrokerManager(broker).lifespan() as queue:
        await queue.publish(OrderPaid(order_id=7, user_id="ana"), queue=name)
        message = await asyncio.wait_for(received.get(), timeout=10)
    assert message == OrderPaid(order_id=7, user_id="ana")


def test_importing_tempest_queue_does_not_import_faststream() -> None:
    code = (
        "import sys, tempest.queue\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'faststream', 'aio_pika', 'fastapi'}))"
    )
    result = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"


def test_missing_extra_names_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['faststream'] = None\n"
        "from tempest.queue._extra import require_faststream\n"
        "require_faststream()\n"
    )
    result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    assert 'pip install "tempest-framework[queue]"' in result.stderr.splitlines()[-1]
