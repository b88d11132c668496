"""The project's queue: subscribers.py discovery, handler sessions, the Publisher dependency."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from aiormq.exceptions import DeliveryError
from fastapi import FastAPI
from sqlalchemy import text

from tempest.conf import ImproperlyConfigured
from tempest.db import get_database
from tempest.queue import (
    Publisher,
    get_consumer,
    get_queue,
    queues_enabled,
    start_queue,
    stop_queue,
    subscriber_routers,
)
from tests.queue.conftest import Configure, QueueName, app_name

pytestmark = pytest.mark.anyio

SUBSCRIBERS = """
from faststream.rabbit import RabbitRouter
from pydantic import BaseModel
from sqlalchemy import text

from tempest.db import atomic
from tempest.queue import MessageSession

router = RabbitRouter()


class Paid(BaseModel):
    order_id: int


@router.subscriber({queue!r})
async def record(message: Paid, session: MessageSession) -> None:
    async with atomic(session):
        await session.execute(
            text("INSERT INTO paid (order_id) VALUES (:id)"), {{"id": message.order_id}}
        )
"""


async def _rows() -> list[int]:
    async with get_database().request_session() as session:
        return list((await session.execute(text("SELECT order_id FROM paid"))).scalars())


async def test_app_subscriber_writes_a_row_with_its_session(
    configure: Configure, amqp_url: str, queue_name: QueueName
) -> None:
    name = queue_name("paid")
    app = app_name()
    configure({app: {"subscribers": SUBSCRIBERS.format(queue=name)}}, RABBITMQ_URL=amqp_url)
    [(config, _router)] = subscriber_routers()
    assert config.name == app
    database = get_database()
    await database.connect()
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE paid (order_id INTEGER)"))
        consumer = get_consumer()
        assert get_queue() is consumer
        await consumer.connect()
        await consumer.publish({"order_id": 41}, queue=name)
        for _ in range(100):
            if await _rows():
                break
            await asyncio.sleep(0.05)
        assert await _rows() == [41]
        await stop_queue()
        assert not consumer.is_connected
    finally:
        await database.disconnect()


async def test_a_subscribers_module_without_router_is_named(configure: Configure) -> None:
    app = app_name()
    configure({app: {"subscribers": "handlers = []\n"}})
    with pytest.raises(ImproperlyConfigured, match=rf"{app}\.subscribers must define `router"):
        subscriber_routers()


async def test_project_without_queues_starts_without_rabbitmq(configure: Configure) -> None:
    configure({app_name(): {"routers": "from fastapi import APIRouter\nrouter = APIRouter()\n"}})
    assert subscriber_routers() == []
    assert not queues_enabled()
    await start_queue()
    assert not get_queue().is_connected


async def test_queues_are_enabled_by_subscribers_or_an_explicit_url(
    configure: Configure, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@rabbit.internal:5672/")
    configure()
    assert queues_enabled()


def _web_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await start_queue()
        try:
            yield
        finally:
            await stop_queue()

    web = FastAPI(lifespan=lifespan)

    @web.post("/orders/{order_id}/pay")
    async def pay(order_id: int, publisher: Publisher) -> dict[str, bool]:
        await publisher.publish({"order_id": order_id}, queue=web.state.queue)
        return {"queued": True}

    return web


async def test_route_publishes_through_the_publisher_dependency(
    configure: Configure, amqp_url: str, queue_name: QueueName
) -> None:
    import aio_pika

    name = queue_name("pay")
    configure(RABBITMQ_URL=amqp_url)
    web = _web_app()
    web.state.queue = name
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        inbox = await channel.declare_queue(name)
        async with web.router.lifespan_context(web):
            assert get_queue().is_connected
            transport = httpx.ASGITransport(app=web)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                response = await http.post("/orders/12/pay")
            assert response.json() == {"queued": True}
        assert not get_queue().is_connected
        message = await inbox.get(timeout=5)
        await message.ack()
    assert json.loads(message.body) == {"order_id": 12}


async def test_publisher_dependency_explains_a_disconnected_queue(configure: Configure) -> None:
    configure()
    web = _web_app()
    web.state.queue = "unused"
    async with web.router.lifespan_context(web):
        transport = httpx.ASGITransport(app=web, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with pytest.raises(RuntimeError, match="set RABBITMQ_URL"):
                await http.post("/orders/1/pay")


async def test_a_message_no_queue_takes_raises_instead_of_vanishing(
    configure: Configure, amqp_url: str
) -> None:
    configure(RABBITMQ_URL=amqp_url)
    queue = get_queue()
    await queue.connect()
    nowhere = f"tempest-nobody-{uuid.uuid4().hex[:8]}"  # no consumer ever declared it
    with pytest.raises(DeliveryError, match="NO_ROUTE"):
        await queue.publish({"order_id": 1}, queue=nowhere)
