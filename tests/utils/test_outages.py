"""Redis, RabbitMQ and the outbox relay going away and coming back, in one process.

Every part that uses Redis answers within its bound (about 2 s) while its Redis is down,
with the error its caller turns into a 503 (or its declared fallback), logs the outage
once and the recovery once with the URL masked, and works again without a restart. Redis
is a private ``redis-server`` killed and restarted, or a TCP proxy that stops answering
(a hang); RabbitMQ is the shared server behind a proxy that is cut (never stopped); the
database of the outbox relay is a private PostgreSQL stopped and started.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tempest.db import BaseOutboxModel
from tempest.exceptions import ServiceUnavailableException
from tempest.utils.outages import OutageLog
from tests.conftest import service_url
from tests.outage_proxy import OutageProxy
from tests.private_postgres import PrivatePostgres, private_postgres
from tests.services import PrivateRedis, private_redis

__all__ = ["private_postgres", "private_redis"]

pytestmark = pytest.mark.anyio

BOUND = 2.6  # seconds: the 2 s timeouts, plus scheduling slack on a busy machine


@pytest.fixture
def amqp_url() -> str:
    """The shared RabbitMQ (only ever reached through a proxy when cut off)."""
    return service_url("TEMPEST_TEST_AMQP_URL")


# -- bad input first: what is not an outage stays what it is ---------------------------------


async def test_a_bad_redis_command_is_no_outage(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    from redis.exceptions import ResponseError

    from tempest.utils.redis_pool import blocking_redis_client, is_redis_outage

    client = blocking_redis_client(
        private_redis.url, needed_by="test", timeout=1.0, max_connections=2
    )
    try:
        await client.set("a-string", "x")
        with pytest.raises(ResponseError) as caught:
            await client.lpush("a-string", "y")  # WRONGTYPE: the command's fault
        assert not is_redis_outage(caught.value)
        assert not client.outage.is_down  # type: ignore[attr-defined]
        assert "unreachable" not in caplog.text
    finally:
        await client.aclose(close_connection_pool=True)


async def test_an_unroutable_message_is_not_a_503(amqp_url: str) -> None:
    from faststream.rabbit import Channel, RabbitBroker

    from tempest.queue import AsyncBrokerManager

    broker = RabbitBroker(amqp_url, default_channel=Channel(on_return_raises=True))
    async with AsyncBrokerManager(broker, url=amqp_url).lifespan() as queue:
        with pytest.raises(Exception) as caught:
            await queue.publish({"a": 1}, queue=f"nobody-declared-{uuid.uuid4().hex}")
        assert not isinstance(caught.value, ServiceUnavailableException)
        assert not queue.outage.is_down


async def test_a_task_that_cannot_be_serialized_is_not_a_503(private_redis: PrivateRedis) -> None:
    from tempest.tasks.brokers import make_broker
    from tempest.tasks.outages import kick_or_unavailable

    broker = make_broker(private_redis.url)
    await broker.startup()
    try:
        decorated = broker.register_task(lambda value: value, task_name="outages.echo")
        with pytest.raises(Exception) as caught:
            await kick_or_unavailable(decorated.kiq(object()), broker, private_redis.url)
        assert not isinstance(caught.value, ServiceUnavailableException)
    finally:
        await broker.shutdown()


def test_the_outage_lines_mask_the_password_and_come_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tempest.outages")
    log = OutageLog("cache", "Redis", "redis://:s3cret-pass@db.example:6379/0", consequence="x")
    for _ in range(3):
        log.failed(ConnectionError("refused"))
    assert log.is_down
    for _ in range(3):
        log.succeeded()
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("cache: Redis unreachable at redis://:***@db.example:6379/0")
    assert lines[0].endswith("(ConnectionError: refused); x")
    assert lines[1].startswith("cache: Redis answers again at redis://:***@db.example:6379/0")
    assert "s3cret" not in caplog.text


# -- every part that uses Redis --------------------------------------------------------------

Part = tuple[str, Callable[[str], Any], Callable[[Any], Awaitable[object]], type[BaseException]]


def _parts() -> list[Part]:
    from tempest.api.middleware.idempotency_stores import RedisIdempotencyStore
    from tempest.api.middleware.rate_limit.stores import (
        RateLimitUnavailableError,
        RedisRateLimitStore,
    )
    from tempest.contrib.admin.sessions import RedisRevokedSessions, RevokedSessionsUnavailable
    from tempest.exceptions.stores import IdempotencyStoreUnavailableError
    from tempest.utils.throttle import RedisThrottleBackend, ThrottleUnavailableError

    return [
        (
            "sign-in throttle",
            RedisThrottleBackend.from_url,
            lambda part: part.check("ana", window_seconds=60),
            ThrottleUnavailableError,
        ),
        (
            "admin signed-out sessions",
            RedisRevokedSessions,
            lambda part: part.is_revoked("session-id"),
            RevokedSessionsUnavailable,
        ),
        (
            "rate limit",
            lambda url: RedisRateLimitStore.from_url(url, fail_open=False),
            lambda part: part.hit("client", max_requests=100, window_seconds=60),
            RateLimitUnavailableError,
        ),
        (
            "idempotency keys",
            lambda url: RedisIdempotencyStore.from_url(url),
            lambda part: part.claim(uuid.uuid4().hex, b"lease", 30),
            IdempotencyStoreUnavailableError,
        ),
    ]


PARTS = {name: name for name, *_ in _parts()}


def _part(name: str) -> Part:
    return next(part for part in _parts() if part[0] == name)


async def _timed(call: Awaitable[object]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        await call
    except Exception as error:
        return error, time.monotonic() - started
    return None, time.monotonic() - started


@pytest.mark.parametrize("name", list(PARTS))
async def test_a_killed_redis_gives_fast_errors_logged_once_then_recovery(
    name: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    who, make, call, unavailable = _part(name)
    caplog.set_level(logging.WARNING)
    part = make(private_redis.url)
    if hasattr(part, "retry_seconds"):
        part.retry_seconds = 0.2  # the rate limit's pause between two tries while down
    try:
        assert (await _timed(call(part)))[0] is None
        private_redis.kill()
        for _ in range(5):
            error, took = await _timed(call(part))
            assert isinstance(error, unavailable), error
            assert took < BOUND
        down = [r.getMessage() for r in caplog.records if "unreachable at" in r.getMessage()]
        assert len(down) == 1, down
        assert down[0].startswith(f"{who}: Redis unreachable at {private_redis.url}")

        private_redis.start()  # the same port; no restart of the part
        await asyncio.sleep(0.25)
        error, _ = await _timed(call(part))
        assert error is None, error
        back = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
        assert len(back) == 1, back
        assert (await _timed(call(part)))[0] is None
    finally:
        await part.aclose()


@pytest.fixture
def redis_proxy() -> Iterator[OutageProxy]:
    """A proxy in front of the shared Redis (never stopped itself)."""
    url = service_url("TEMPEST_TEST_REDIS_URL")
    host_port = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    with OutageProxy(host, int(port or 6379)) as proxy:
        yield proxy


async def test_a_redis_that_stops_answering_is_bounded_too(redis_proxy: OutageProxy) -> None:
    db = service_url("TEMPEST_TEST_REDIS_URL").rsplit("/", 1)[-1]
    url = redis_proxy.url("redis", path=f"/{db}")
    parts = [(make(url), call, unavailable) for _, make, call, unavailable in _parts()]
    for part, _, _ in parts:
        if hasattr(part, "retry_seconds"):
            part.retry_seconds = 0  # the rate limit tries Redis on each request
    try:
        for part, call, _ in parts:
            assert (await _timed(call(part)))[0] is None
        redis_proxy.blackhole()  # connections are accepted and never answered
        for _ in range(2):  # the pooled connection is reset; a new one hangs
            results = await asyncio.gather(*(_timed(call(part)) for part, call, _ in parts))
            for (error, took), (_, _, unavailable) in zip(results, parts, strict=True):
                assert isinstance(error, unavailable), error
                assert took < BOUND
        assert max(took for _, took in results) > 0.5  # it did hang, up to the bound
        redis_proxy.restore()
        for part, call, _ in parts:
            assert (await _timed(call(part)))[0] is None
    finally:
        for part, _, _ in parts:
            await part.aclose()


async def test_the_task_brokers_readiness_check_is_bounded_too(redis_proxy: OutageProxy) -> None:
    from tempest.tasks import AsyncTaskBrokerManager
    from tempest.tasks.brokers import make_broker

    db = service_url("TEMPEST_TEST_REDIS_URL").rsplit("/", 1)[-1]
    manager = AsyncTaskBrokerManager(make_broker(redis_proxy.url("redis", path=f"/{db}")))
    async with manager.lifespan():
        assert await manager.health_check()
        redis_proxy.blackhole()
        for _ in range(2):  # the pooled connection is reset; a new one hangs
            started = time.monotonic()
            assert not await manager.health_check()
            assert time.monotonic() - started < 1.5
        redis_proxy.restore()
        assert await manager.health_check()


# -- kicking a task, publishing a message ----------------------------------------------------


async def test_kicking_a_task_while_its_redis_broker_is_down_is_a_fast_503(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    from tempest.tasks.brokers import make_broker
    from tempest.tasks.outages import kick_or_unavailable

    caplog.set_level(logging.WARNING, logger="tempest.tasks")
    broker = make_broker(private_redis.url, queue_name=f"outages-{uuid.uuid4().hex[:8]}")
    await broker.startup()
    try:
        decorated = broker.register_task(lambda: None, task_name="outages.nothing")
        await kick_or_unavailable(decorated.kiq(), broker, private_redis.url)
        private_redis.kill()
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(ServiceUnavailableException) as caught:
                await kick_or_unavailable(decorated.kiq(), broker, private_redis.url)
            assert time.monotonic() - started < BOUND
        assert caught.value.code == "TASK_BROKER_UNAVAILABLE"
        assert caught.value.headers["Retry-After"] == "5"
        assert caught.value.details == {"service": "task broker"}
        assert caplog.text.count("task queue: the task broker unreachable at") == 1
        private_redis.start()
        await asyncio.sleep(0.2)
        await kick_or_unavailable(decorated.kiq(), broker, private_redis.url)
        assert caplog.text.count("task queue: the task broker answers again") == 1
    finally:
        await broker.shutdown()


async def test_publishing_while_rabbitmq_is_cut_off_is_a_fast_503_then_recovers(
    amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    import aio_pika
    from faststream.rabbit import Channel, RabbitBroker

    from tempest.queue import AsyncBrokerManager

    caplog.set_level(logging.WARNING, logger="tempest.outages")
    name = f"tempest-test.outage.{uuid.uuid4().hex[:12]}"
    with OutageProxy("127.0.0.1", int(amqp_url.rsplit(":", 1)[1].split("/")[0])) as proxy:
        url = proxy.url("amqp", "guest:guest@")
        broker = RabbitBroker(url, default_channel=Channel(on_return_raises=True))
        connection = await aio_pika.connect(amqp_url)
        channel = await connection.channel()
        await channel.declare_queue(name, auto_delete=False)
        try:
            async with AsyncBrokerManager(broker, url=url).lifespan() as queue:
                await queue.publish({"n": 0}, queue=name)
                proxy.cut()
                for n in range(3):
                    started = time.monotonic()
                    with pytest.raises(ServiceUnavailableException) as caught:
                        await queue.publish({"n": n}, queue=name)
                    assert time.monotonic() - started < BOUND
                assert caught.value.code == "QUEUE_UNAVAILABLE"
                assert caught.value.headers["Retry-After"] == "5"
                assert caplog.text.count("queue publisher: RabbitMQ unreachable at") == 1
                assert "guest:guest" not in caplog.text
                proxy.restore()
                deadline = time.monotonic() + 10  # aio-pika reconnects every 5 s
                while True:
                    try:
                        await queue.publish({"n": "back"}, queue=name)
                        break
                    except ServiceUnavailableException:
                        assert time.monotonic() < deadline, "no reconnection within 10 s"
                        await asyncio.sleep(0.5)
                assert caplog.text.count("queue publisher: RabbitMQ answers again") == 1
        finally:
            await channel.queue_delete(name)
            await connection.close()


# -- the outbox relay ------------------------------------------------------------------------


class OutageEvent(BaseOutboxModel):
    __tablename__ = "outage_test_event"


@pytest.fixture
async def outbox(private_postgres: PrivatePostgres) -> AsyncIterator[tuple[Any, Any]]:
    """(database manager, outbox model) on the private PostgreSQL, its table alone created."""
    from tempest.db import AsyncDatabaseManager

    table = OutageEvent.__table__
    database = AsyncDatabaseManager(private_postgres.url, unavailable_timeout=1.0)
    await database.connect()
    async with database.engine.begin() as connection:
        await connection.run_sync(lambda sync: table.create(sync, checkfirst=True))  # type: ignore[attr-defined]
    try:
        yield database, OutageEvent
    finally:
        if not private_postgres.running:
            private_postgres.start()
        async with database.engine.begin() as connection:
            await connection.run_sync(lambda sync: table.drop(sync))  # type: ignore[attr-defined]
        await database.disconnect()


async def _add_events(database: Any, model: Any, count: int, due_in: float) -> list[str]:
    from tempest.db import atomic

    due = datetime.now(UTC) + timedelta(seconds=due_in)
    async with database.session_factory() as session, atomic(session):
        events = [model(topic="t", payload={"n": n}, available_at=due) for n in range(count)]
        session.add_all(events)
    return [str(event.id) for event in events]


async def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.05)


async def test_the_relay_backs_off_while_the_database_is_down_and_publishes_each_event_once(
    private_postgres: PrivatePostgres,
    outbox: tuple[Any, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tempest.db import OutboxRelay

    database, model = outbox
    caplog.set_level(logging.WARNING, logger="tempest.db.outbox")
    published: list[Any] = []

    async def publish(topic: str, payload: Any) -> None:
        published.append(payload["n"])

    relay = OutboxRelay(database, model, publish, batch_size=4)
    polls = 0
    run_once = relay.run_once

    async def counted() -> int:
        nonlocal polls
        polls += 1
        return await run_once()

    relay.run_once = counted  # type: ignore[method-assign]
    # Pending events, due once the outage has begun (retries waiting for their time).
    await _add_events(database, model, 10, due_in=1.0)
    runner = asyncio.create_task(relay.run_forever(0.05, prune_every=None, max_backoff=0.4))
    try:
        await asyncio.to_thread(private_postgres.stop)
        polls_at_stop = polls
        await asyncio.sleep(2.5)
        # Backing off: 0.05, 0.1, 0.2, 0.4, 0.4... not a poll every 0.05 s.
        assert polls - polls_at_stop <= 10, polls - polls_at_stop
        assert published == []
        await asyncio.to_thread(private_postgres.start)
        await _wait_for(lambda: len(published) >= 10, 10, "every event published")
        await asyncio.sleep(0.3)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert sorted(published) == list(range(10))  # each once
    async with database.session_factory() as session:
        statuses = (await session.scalars(select(model.status))).all()
    assert {str(status) for status in statuses} == {"dispatched"}
    lines = [r.getMessage() for r in caplog.records]
    down = [line for line in lines if "the database unreachable" in line]
    back = [line for line in lines if "the database answers again" in line]
    assert len(down) == 1 and len(back) == 1, lines
    assert str(private_postgres.port) in down[0]
    assert not [r for r in caplog.records if r.exc_info], "no traceback per poll"


async def test_the_relay_backs_off_while_the_broker_is_down(
    outbox: tuple[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    from tempest.db import OutboxRelay

    database, model = outbox
    caplog.set_level(logging.WARNING, logger="tempest.db.outbox")
    published: list[Any] = []
    tries = 0
    broker_up = False

    async def publish(topic: str, payload: Any) -> None:
        nonlocal tries
        tries += 1
        if not broker_up:
            raise ConnectionError("Connection refused")
        published.append(payload["n"])

    relay = OutboxRelay(database, model, publish, retry_backoff=timedelta(0), batch_size=5)
    await _add_events(database, model, 5, due_in=0)
    runner = asyncio.create_task(relay.run_forever(0.05, prune_every=None, max_backoff=0.4))
    try:
        await asyncio.sleep(2.0)
        assert tries <= 10, tries  # backing off, not one try every 0.05 s
        assert relay.broker_is_down
        broker_up = True
        await _wait_for(lambda: len(published) >= 5, 5, "every event published")
        await asyncio.sleep(0.2)
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
    assert sorted(published) == list(range(5))
    assert not relay.broker_is_down
    lines = [r.getMessage() for r in caplog.records]
    assert len([line for line in lines if "the message broker unreachable" in line]) == 1
    assert len([line for line in lines if "the message broker answers again" in line]) == 1
