"""Decorators, registry, naming, make_broker and in-process kicks on memory://."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from taskiq import InMemoryBroker
from taskiq_aio_pika import AioPikaBroker
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

from tempest.exceptions.framework import ImproperlyConfigured
from tempest.tasks import (
    AsyncTaskBrokerManager,
    AsyncTaskScheduler,
    make_broker,
    periodic,
    registered_tasks,
    task,
)
from tempest.tasks.registry import unregister
from tests.conftest import service_url
from tests.services import delete_task_queue

pytestmark = pytest.mark.anyio


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Task names to take out of the registry after the test."""
    names: list[str] = []
    yield names
    for name in names:
        unregister(name)


def test_default_name_is_app_dot_function_and_the_task_stays_callable(cleanup: list[str]) -> None:
    def send_welcome_email(to: str) -> str:
        return f"hi {to}"

    send_welcome_email.__module__ = "orders.tasks"
    declared = task(send_welcome_email)
    cleanup.append(declared.task_name)
    assert declared.task_name == "orders.send_welcome_email"
    assert declared("ann") == "hi ann"
    assert declared in registered_tasks()


def test_explicit_name_labels_and_retry(cleanup: list[str]) -> None:
    @task(name="billing.charge", retry=2, priority=5)
    async def charge() -> None: ...

    cleanup.append("billing.charge")
    assert charge.task_name == "billing.charge"
    # SimpleRetryMiddleware counts attempts: two retries are three attempts.
    assert charge.labels == {"retry_on_error": True, "max_retries": 3, "priority": 5}


def test_two_functions_with_one_name_are_refused(cleanup: list[str]) -> None:
    @task(name="dup.name")
    def first() -> None: ...

    cleanup.append("dup.name")
    with pytest.raises(ImproperlyConfigured, match=r"Two tasks are named 'dup\.name'"):

        @task(name="dup.name")
        def second() -> None: ...


def test_periodic_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="exactly one of cron"):
        periodic()
    with pytest.raises(ValueError, match="exactly one of cron"):
        periodic(cron="* * * * *", interval=5)
    with pytest.raises(ValueError, match="at least 1 second"):
        periodic(interval=timedelta(milliseconds=500))
    with pytest.raises(ValueError, match="it has 3 field"):
        periodic(cron="*/5 * *")
    with pytest.raises(ValueError, match="cron_offset only applies"):
        periodic(interval=5, cron_offset="-03:00")
    with pytest.raises(ValueError, match="retry must be 0 or more"):
        task(retry=-1)


def test_periodic_task_is_a_task_with_schedule_labels(cleanup: list[str]) -> None:
    @periodic(interval=timedelta(seconds=30))
    @periodic(cron="0 9 * * MON-FRI", cron_offset="-03:00")
    async def digest() -> None: ...

    cleanup.append(digest.task_name)
    labels = digest.taskiq_labels()
    assert labels["schedule"] == [
        # TaskIQ reads a string offset as a zone name: "-03:00" goes as a timedelta.
        {"args": [], "kwargs": {}, "cron": "0 9 * * MON-FRI", "cron_offset": timedelta(hours=-3)},
        {"args": [], "kwargs": {}, "interval": 30},
    ]
    assert [s.describe() for s in digest.schedules] == [
        "cron 0 9 * * MON-FRI (UTC-03:00)",
        "every 30s",
    ]


def test_make_broker_schemes() -> None:
    assert isinstance(make_broker("memory://"), InMemoryBroker)
    assert isinstance(make_broker("amqp://guest:guest@localhost/"), AioPikaBroker)
    assert isinstance(make_broker("amqps://guest:guest@localhost/"), AioPikaBroker)
    redis = make_broker("redis://localhost/0", queue_name="q1")
    assert isinstance(redis, RedisStreamBroker)
    assert redis.queue_name == "q1"
    with_backend = make_broker("rediss://localhost/0", result_backend_url="redis://localhost/1")
    assert isinstance(with_backend.result_backend, RedisAsyncResultBackend)


def test_make_broker_refuses_unknown_schemes_naming_the_setting() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        make_broker("kafka://user:secret@host:9092")
    message = str(caught.value)
    assert "TASKIQ_BROKER_URL" in message and "secret" not in message
    assert "memory://, amqp://, amqps://, redis://, rediss://" in message
    with pytest.raises(ImproperlyConfigured, match="TASKIQ_RESULT_BACKEND_URL"):
        make_broker("amqp://localhost/", result_backend_url="postgres://localhost/db")


async def test_kiq_on_a_memory_broker_runs_the_task_in_process(cleanup: list[str]) -> None:
    seen: list[Any] = []

    @task(name=f"unit.double.{uuid.uuid4().hex}")
    async def double(value: int) -> int:
        seen.append(value)
        return value * 2

    cleanup.append(double.task_name)
    broker = make_broker("memory://")
    double.bind(broker)
    manager = AsyncTaskBrokerManager(broker)
    async with manager.lifespan():
        assert manager.is_connected and await manager.health_check()
        handle = await double.bind(broker).kiq(21)
        result = await handle.wait_result(timeout=5)
    assert result.return_value == 42 and seen == [21]
    assert not manager.is_connected and not await manager.health_check()


async def test_retry_runs_a_failing_task_again(cleanup: list[str]) -> None:
    attempts: list[int] = []

    @task(name=f"unit.flaky.{uuid.uuid4().hex}", retry=2)
    async def flaky() -> None:
        attempts.append(1)
        raise RuntimeError("boom")

    cleanup.append(flaky.task_name)
    broker = make_broker("memory://")
    async with AsyncTaskBrokerManager(broker).lifespan():
        await flaky.bind(broker).kiq()
        for _ in range(3):
            await broker.wait_all()  # type: ignore[attr-defined]
    assert len(attempts) == 3


async def test_manager_surface_register_task_and_broker_dependency() -> None:
    manager = AsyncTaskBrokerManager(InMemoryBroker())
    with pytest.raises(RuntimeError, match="not started"):
        await anext(manager.broker_dependency())

    def add(a: int, b: int) -> int:
        return a + b

    registered = manager.register_task(add, task_name="unit.add")

    @manager.task(task_name="unit.sub")
    def sub(a: int, b: int) -> int:
        return a - b

    await manager.connect()
    await manager.connect()  # idempotent
    assert await anext(manager.broker_dependency()) is manager.broker
    handle = await registered.kiq(2, 3)
    assert (await handle.wait_result(timeout=5)).return_value == 5
    assert (await (await sub.kiq(5, 3)).wait_result(timeout=5)).return_value == 2
    await manager.disconnect()
    await manager.disconnect()


async def test_scheduler_surface_kicks_an_interval_task_in_background() -> None:
    broker = InMemoryBroker()
    scheduler = AsyncTaskScheduler(broker)
    ran: list[int] = []

    @scheduler.interval(1, task_name="unit.tick")
    async def tick() -> None:
        ran.append(1)

    @scheduler.cron("*/5 * * * *", cron_offset="-03:00", task_name="unit.cron")
    async def five() -> None: ...

    @scheduler.schedule([{"cron": "0 0 * * *"}], task_name="unit.raw")
    async def raw() -> None: ...

    assert scheduler.sources and scheduler.scheduler.broker is broker
    assert broker.find_task("unit.cron").labels["schedule"] == [  # type: ignore[union-attr]
        {"cron": "*/5 * * * *", "cron_offset": "-03:00"}
    ]
    assert not await scheduler.health_check()
    async with scheduler.lifespan():
        await scheduler.run_in_background()
        assert scheduler.is_connected and await scheduler.health_check()
        import asyncio

        for _ in range(40):
            if ran:
                break
            await asyncio.sleep(0.1)
    assert ran, "the interval task was not kicked within 4 s"
    assert not scheduler.is_connected


async def test_real_brokers_are_healthy_once_started() -> None:
    amqp = service_url("TEMPEST_TEST_AMQP_URL")
    redis = service_url("TEMPEST_TEST_REDIS_URL")
    queue = f"tempest-test-{uuid.uuid4().hex[:8]}"
    for url in (amqp, redis):
        manager = AsyncTaskBrokerManager(make_broker(url, queue_name=queue))
        async with manager.lifespan():
            assert await manager.health_check(), url
        assert not await manager.health_check()
    await delete_task_queue(amqp, queue)


def test_importing_tempest_tasks_does_not_import_taskiq() -> None:
    import subprocess
    import sys

    code = "import sys, tempest.tasks; print('taskiq' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ
    )
    assert out.stdout.strip() == "False", out.stderr
