"""The transactional outbox end to end, built the way the docs tell a user to build it.

A generated project's ``orders`` app saves an order and its "order placed" event with
``save_with_outbox`` (one transaction) in a route; a ``@periodic`` task publishes the
outbox through the project's queue (``tempest.queue.get_queue()``) with the outbox row's
id as the message id; the app's ``subscribers.py`` records every event it receives,
keyed by that id, counting deliveries. ``runserver``, ``worker``, ``scheduler`` and
``consumer`` run as real subprocesses on a PostgreSQL database and RabbitMQ names made
for this run.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_url
from tests.helpers import (
    PYTHON,
    clean_env,
    free_port,
    http,
    manage,
    stop_group,
    tempest,
    wait_for_http,
)
from tests.services import delete_task_queue, fetch_rows, scratch_database

pytestmark = pytest.mark.e2e

MODELS = '''
"""Database models of the orders app."""

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from tempest.db import BaseModel, BaseOutboxModel


class OrderModel(BaseModel):
    """One order; its code is unique."""

    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class OutboxEventModel(BaseOutboxModel):
    """Events of the orders app waiting to be published; the table is outbox_event."""


class ReceivedEventModel(BaseModel):
    """One event the subscriber got, once per event id, with how often it came."""

    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_code: Mapped[str] = mapped_column(String(50))
    deliveries: Mapped[int] = mapped_column(Integer)
'''

REPOSITORIES = '''
"""Data access of the orders app."""

from sqlalchemy.ext.asyncio import AsyncSession
from tempest.db import BaseRepository

from orders.models import OrderModel, OutboxEventModel


class OrderRepository(BaseRepository[OrderModel]):
    """Orders; save_with_outbox writes their events to OutboxEventModel."""

    outbox_model = OutboxEventModel

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, model=OrderModel)
'''

ROUTERS = '''
"""HTTP routes of the orders app."""

from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from tempest.db import get_session

from orders.models import OrderModel
from orders.repositories import OrderRepository
from orders.subscribers import TOPIC

router = APIRouter(tags=["orders"])


class PlaceOrder(BaseModel):
    code: str
    name: str


@router.post("", status_code=status.HTTP_201_CREATED)
async def place_order(
    body: PlaceOrder, session: Annotated[AsyncSession, Depends(get_session)]
) -> dict[str, str]:
    order = OrderModel(code=body.code, name=body.name)
    await OrderRepository(session).save_with_outbox(
        order, TOPIC, {"order_id": str(order.id), "code": order.code}
    )
    return {"id": str(order.id)}
'''

TASKS = '''
"""The relay of the orders outbox, run every second by the scheduler and a worker."""

from datetime import timedelta

from tempest.db import OutboxRelay, get_database
from tempest.queue import get_queue
from tempest.tasks import periodic

from orders.models import OutboxEventModel


class RabbitRelay(OutboxRelay[OutboxEventModel]):
    """Publish through the project's queue, with the outbox row's id as the message id."""

    def __init__(self) -> None:
        super().__init__(get_database(), OutboxEventModel, publish=None)

    async def dispatch(self, event: OutboxEventModel) -> None:
        queue = get_queue()
        await queue.connect()  # a worker process does not connect it; a no-op once connected
        await queue.publish(event.payload, queue=event.topic, message_id=str(event.id))


relay = RabbitRelay()


@periodic(interval=timedelta(seconds=1))
async def relay_order_events() -> None:
    while await relay.run_once() == relay.batch_size:
        pass
'''

SUBSCRIBERS = '''
"""Message handlers of the orders app."""

from faststream.rabbit import RabbitRouter
from faststream.rabbit.annotations import RabbitMessage
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from tempest.db import atomic
from tempest.queue import MessageSession

from orders.models import ReceivedEventModel

TOPIC = "@TOPIC@"

router = RabbitRouter()


class OrderPlaced(BaseModel):
    order_id: str
    code: str


@router.subscriber(TOPIC)
async def order_placed(
    event: OrderPlaced, message: RabbitMessage, session: MessageSession
) -> None:
    """Record the event once per message id; a redelivery only counts up."""
    received = ReceivedEventModel
    statement = (
        insert(received)
        .values(event_id=message.message_id, order_code=event.code, deliveries=1)
        .on_conflict_do_update(
            index_elements=[received.event_id],
            set_={"deliveries": received.deliveries + 1},
        )
    )
    async with atomic(session):
        await session.execute(statement)
'''


@dataclass
class Project:
    """The generated project, the services it runs on and its processes' logs."""

    path: Path
    database_url: str
    amqp_url: str
    task_queue: str
    topic: str
    logs: dict[str, Path] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return clean_env(**self.overrides(), LOG_LEVEL="WARNING")

    def overrides(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.database_url,
            "RABBITMQ_URL": self.amqp_url,
            "TASKIQ_BROKER_URL": self.amqp_url,
            "TASKIQ_QUEUE_NAME": self.task_queue,
        }

    def output(self) -> str:
        """Every process's output so far, for assertion messages."""
        return "\n".join(
            f"--- {name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for name, path in self.logs.items()
        )


def fetch(project: Project, query: str) -> list[dict[str, Any]]:
    """Rows of ``query`` on the project's database."""
    return asyncio.run(fetch_rows(project.database_url, query))


async def _queue_exists(url: str, name: str) -> bool:
    import aio_pika
    from aiormq.exceptions import ChannelNotFoundEntity

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except ChannelNotFoundEntity:
            return False
    return True


def wait_until(condition: Callable[[], bool], timeout: float, what: str, project: Project) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}\n{project.output()}")


@contextmanager
def running(project: Project, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """``manage.py ARGS`` in its own process group, output to a log file, killed at the end."""
    log = project.path.parent / f"{args[0]}.log"
    project.logs[args[0]] = log
    with log.open("wb") as output:
        process = subprocess.Popen(
            [PYTHON, "manage.py", *args],
            cwd=project.path,
            env=project.env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_group(process, timeout=10)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """``shop`` with the ``orders`` app, migrated into a PostgreSQL database of its own."""
    admin_url = service_url("TEMPEST_TEST_DATABASE_URL")
    amqp_url = service_url("TEMPEST_TEST_AMQP_URL")
    suffix = uuid.uuid4().hex[:10]
    database = f"tempest_outbox_{suffix}"
    root = tmp_path_factory.mktemp("outbox-e2e")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    path = root / "shop"
    app = manage(path, "startapp", "--empty", "orders")
    assert app.returncode == 0, app.stderr
    topic = f"orders.placed.{suffix}"
    files = {
        "models.py": MODELS,
        "repositories.py": REPOSITORIES,
        "routers.py": ROUTERS,
        "tasks.py": TASKS,
        "subscribers.py": SUBSCRIBERS.replace("@TOPIC@", topic),
    }
    for name, text in files.items():
        (path / "orders" / name).write_text(text)
    task_queue = f"tempest-outbox-{suffix}"
    with scratch_database(admin_url, database) as database_url:
        result = Project(path, database_url, amqp_url, task_queue, topic)
        try:
            for step in ("makemigrations", "migrate"):
                done = manage(path, step, timeout=60, **result.overrides())
                assert done.returncode == 0, done.stdout + done.stderr
            yield result
        finally:
            asyncio.run(delete_task_queue(amqp_url, task_queue, topic))


@pytest.fixture(scope="module")
def base_url(project: Project) -> Iterator[str]:
    """The four processes running; the URL of the web server."""
    port = free_port()
    with ExitStack() as stack:
        consumer = stack.enter_context(running(project, "consumer"))
        # Publishing to a queue nobody declared yet would drop the message: start the
        # consumer, which declares the topic's queue, before anything is relayed.
        wait_until(
            lambda: asyncio.run(_queue_exists(project.amqp_url, project.topic)),
            20,
            "the consumer declared its queue",
            project,
        )
        processes = [
            consumer,
            stack.enter_context(running(project, "worker", "--workers", "1")),
            stack.enter_context(running(project, "scheduler")),
            stack.enter_context(running(project, "runserver", "--noreload", f"127.0.0.1:{port}")),
        ]
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/health/liveness")
        yield url
        assert all(process.poll() is None for process in processes), project.output()


def place_order(base_url: str, code: str, name: str) -> tuple[int, Any]:
    status, body = http(
        "POST", f"{base_url}/api/orders", json.dumps({"code": code, "name": name}).encode()
    )
    return status, json.loads(body or b"null")


def outbox(project: Project) -> list[dict[str, Any]]:
    return fetch(
        project, "SELECT id::text AS id, topic, payload, status FROM outbox_event ORDER BY id"
    )


def received(project: Project) -> list[dict[str, Any]]:
    return fetch(project, "SELECT event_id, order_code, deliveries FROM received_event")


def test_every_placed_order_is_received_once_and_its_outbox_row_is_dispatched(
    project: Project, base_url: str
) -> None:
    codes = [f"A-{number}" for number in range(1, 6)]
    for code in codes:
        status, body = place_order(base_url, code, f"order {code}")
        assert status == 201, body

    wait_until(
        lambda: {row["order_code"] for row in received(project)} >= set(codes),
        10,
        "the subscriber received every order",
        project,
    )
    wait_until(
        lambda: all(row["status"] == "dispatched" for row in outbox(project)),
        10,
        "every outbox row is dispatched",
        project,
    )
    time.sleep(2.5)  # two more relay ticks: nothing may be published again

    events = {row["id"]: row for row in outbox(project)}
    payloads = {event_id: json.loads(row["payload"]) for event_id, row in events.items()}
    mine = {event_id: payload for event_id, payload in payloads.items() if payload["code"] in codes}
    assert sorted(payload["code"] for payload in mine.values()) == codes
    assert all(events[event_id]["topic"] == project.topic for event_id in mine)
    assert all(events[event_id]["status"] == "dispatched" for event_id in mine)
    got = {row["event_id"]: row for row in received(project) if row["order_code"] in codes}
    assert set(got) == set(mine), "the message ids are the outbox rows' ids"
    assert {event_id: row["deliveries"] for event_id, row in got.items()} == dict.fromkeys(
        mine, 1
    ), "each event was delivered exactly once"
    assert {event_id: row["order_code"] for event_id, row in got.items()} == {
        event_id: payload["code"] for event_id, payload in mine.items()
    }
    orders = fetch(project, 'SELECT id::text AS id, code FROM "order"')
    placed = {row["code"]: row["id"] for row in orders if row["code"] in codes}
    assert sorted(placed) == codes
    assert {payload["code"]: payload["order_id"] for payload in mine.values()} == placed


def test_an_order_whose_insert_fails_leaves_no_event_and_publishes_nothing(
    project: Project, base_url: str
) -> None:
    status, body = place_order(base_url, "B-1", "the first B-1")
    assert status == 201, body
    wait_until(
        lambda: any(row["order_code"] == "B-1" for row in received(project)),
        20,
        "the first B-1 was received",
        project,
    )
    events_before = outbox(project)

    status, body = place_order(base_url, "B-1", "a second B-1")  # the code is unique
    assert status == 409, body
    time.sleep(2.5)  # two relay ticks

    assert outbox(project) == events_before, "the failed insert left an outbox row"
    assert [
        row["name"] for row in fetch(project, """SELECT name FROM "order" WHERE code = 'B-1'""")
    ] == ["the first B-1"]
    b1 = [row for row in received(project) if row["order_code"] == "B-1"]
    assert [row["deliveries"] for row in b1] == [1], "only the first B-1 was published"
    assert len(received(project)) == len(events_before)
    assert all(row["status"] == "dispatched" for row in events_before)
