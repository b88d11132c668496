"""The transactional outbox: save_with_outbox, OutboxRelay, pruning, concurrent relays."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import String, event as sa_event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import (
    AsyncDatabaseManager,
    BaseModel,
    BaseOutboxModel,
    BaseRepository,
    OutboxRelay,
    OutboxStatus,
    atomic,
)
from tempest.db.outbox import exponential_backoff
from tempest.exceptions import ConflictException, ImproperlyConfigured
from tests.conftest import service_url

pytestmark = pytest.mark.anyio


class OutboxOrder(BaseModel):
    __tablename__ = "outbox_test_order"

    name: Mapped[str] = mapped_column(String(40), unique=True)


class OutboxEvent(BaseOutboxModel):
    __tablename__ = "outbox_test_event"


class OrderRepository(BaseRepository[OutboxOrder]):
    outbox_model = OutboxEvent

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, model=OutboxOrder)


class Recorder:
    """A publish target: a real list, optionally failing or slow."""

    def __init__(self, *, fail: int = 0, delay: float = 0.0) -> None:
        self.published: list[tuple[str, Any]] = []
        self.fail = fail
        self.delay = delay
        self.calls = 0

    async def __call__(self, topic: str, payload: Any) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.calls <= self.fail:
            raise ConnectionError("broker unreachable")
        self.published.append((topic, payload))


async def events(database: AsyncDatabaseManager) -> list[OutboxEvent]:
    async with database.request_session() as session:
        query = select(OutboxEvent).order_by(OutboxEvent.created_at, OutboxEvent.id)
        return list((await session.scalars(query)).all())


async def save(database: AsyncDatabaseManager, *names: str) -> None:
    async with database.request_session() as session:
        repository = OrderRepository(session)
        for name in names:
            await repository.save_with_outbox(
                OutboxOrder(name=name), "orders.placed", {"name": name}
            )


async def test_save_with_outbox_writes_the_row_and_a_pending_event(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        order = await OrderRepository(session).save_with_outbox(
            OutboxOrder(name="coffee"), "orders.placed", {"name": "coffee", "qty": 2}
        )
        assert order.created_at is not None
    [event] = await events(database)
    assert (event.topic, event.payload) == ("orders.placed", {"name": "coffee", "qty": 2})
    assert event.status is OutboxStatus.PENDING
    assert (event.attempts, event.dispatched_at, event.last_error) == (0, None, None)
    async with database.request_session() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxOrder)) == 1


async def test_a_failing_domain_write_leaves_no_event(database: AsyncDatabaseManager) -> None:
    await save(database, "tea")
    async with database.request_session() as session:
        with pytest.raises(ConflictException):
            await OrderRepository(session).save_with_outbox(
                OutboxOrder(name="tea"), "orders.placed", {"name": "tea again"}
            )
    assert [event.payload for event in await events(database)] == [{"name": "tea"}]


async def test_a_failing_outer_block_rolls_back_row_and_event(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        with pytest.raises(RuntimeError):
            async with atomic(session):
                await OrderRepository(session).save_with_outbox(
                    OutboxOrder(name="cake"), "orders.placed", {"name": "cake"}
                )
                raise RuntimeError("the caller's later step failed")
        assert await session.scalar(select(func.count()).select_from(OutboxOrder)) == 0
    assert await events(database) == []


async def test_save_with_outbox_updates_a_loaded_row(database: AsyncDatabaseManager) -> None:
    await save(database, "juice")
    async with database.request_session() as session:
        repository = OrderRepository(session)
        order = await repository.get({"name": "juice"})
        order.name = "orange juice"
        await repository.save_with_outbox(order, "orders.renamed", {"name": "orange juice"})
    async with database.request_session() as session:
        names = (await session.scalars(select(OutboxOrder.name))).all()
    assert names == ["orange juice"]
    assert [event.topic for event in await events(database)] == ["orders.placed", "orders.renamed"]


async def test_the_outbox_model_can_be_passed_or_must_be_configured(
    database: AsyncDatabaseManager,
) -> None:
    async with database.request_session() as session:
        plain = BaseRepository(session, model=OutboxOrder)
        with pytest.raises(ImproperlyConfigured, match="outbox_model"):
            await plain.save_with_outbox(OutboxOrder(name="x"), "t", {})
        await plain.save_with_outbox(OutboxOrder(name="y"), "t", {}, outbox_model=OutboxEvent)
    assert len(await events(database)) == 1


async def test_the_relay_publishes_in_order_and_marks_dispatched(
    database: AsyncDatabaseManager,
) -> None:
    names = [f"order-{number}" for number in range(7)]
    await save(database, *names)
    target = Recorder()
    relay = OutboxRelay(database, OutboxEvent, target, batch_size=3)

    assert [await relay.run_once() for _ in range(4)] == [3, 3, 1, 0]

    assert target.published == [("orders.placed", {"name": name}) for name in names]
    stored = await events(database)
    assert {event.status for event in stored} == {OutboxStatus.DISPATCHED}
    assert all(event.attempts == 1 and event.dispatched_at is not None for event in stored)


async def test_a_failed_publication_is_retried_later_then_marked_failed(
    database: AsyncDatabaseManager,
) -> None:
    await save(database, "first", "second")
    target = Recorder(fail=100)
    relay = OutboxRelay(
        database, OutboxEvent, target, max_attempts=3, retry_backoff=timedelta(hours=1)
    )

    assert await relay.run_once() == 0
    first, second = await events(database)
    assert first.status is OutboxStatus.PENDING and first.attempts == 1
    assert first.last_error == "ConnectionError: broker unreachable"
    assert _aware(first.available_at) > datetime.now(UTC) + timedelta(minutes=59)
    assert second.attempts == 0  # the batch stopped at the first failure

    # The failed row is not due yet: the next run goes on with the second one (failing).
    assert await relay.run_once() == 0
    assert [event.attempts for event in await events(database)] == [1, 1]
    assert target.calls == 2

    for _ in range(4):  # each row fails twice more; the last failure marks it failed
        await _make_due(database)
        assert await relay.run_once() == 0
    assert [(event.status, event.attempts) for event in await events(database)] == [
        (OutboxStatus.FAILED, 3),
        (OutboxStatus.FAILED, 3),
    ]
    assert target.calls == 6
    await _make_due(database)
    assert await relay.run_once() == 0
    assert target.calls == 6  # failed rows are not tried again
    assert target.published == []

    target.fail = 0
    assert await relay.requeue_failed() == 2
    assert await relay.run_once() == 2
    assert target.published == [
        ("orders.placed", {"name": "first"}),
        ("orders.placed", {"name": "second"}),
    ]


async def test_a_transient_failure_publishes_on_the_retry(database: AsyncDatabaseManager) -> None:
    await save(database, "one")
    target = Recorder(fail=1)
    relay = OutboxRelay(database, OutboxEvent, target, retry_backoff=timedelta(0))
    assert await relay.run_once() == 0
    assert await relay.run_once() == 1
    [event] = await events(database)
    assert (event.status, event.attempts, event.last_error) == (OutboxStatus.DISPATCHED, 2, None)


async def test_a_slow_publication_times_out_and_counts_as_failed(
    database: AsyncDatabaseManager,
) -> None:
    await save(database, "slow")
    relay = OutboxRelay(database, OutboxEvent, Recorder(delay=5), publish_timeout=0.05)
    assert await relay.run_once() == 0
    [event] = await events(database)
    assert event.status is OutboxStatus.PENDING and event.attempts == 1
    assert event.last_error is not None and event.last_error.startswith("TimeoutError")


async def test_prune_deletes_old_dispatched_rows_only(database: AsyncDatabaseManager) -> None:
    await save(database, *(f"old-{n}" for n in range(5)), "recent", "pending", "failed")
    await _set(database, "old-", OutboxStatus.DISPATCHED, timedelta(days=8))
    await _set(database, "recent", OutboxStatus.DISPATCHED, timedelta(days=1))
    await _set(database, "failed", OutboxStatus.FAILED, timedelta(days=30))

    relay = OutboxRelay(database, OutboxEvent, Recorder(), prune_batch_size=2)
    assert await relay.prune() == 5
    assert sorted(event.payload["name"] for event in await events(database)) == [
        "failed",
        "pending",
        "recent",
    ]
    assert await relay.prune() == 0


async def test_the_claim_and_the_prune_are_index_scans(database: AsyncDatabaseManager) -> None:
    captured: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "outbox_test_event" in statement and statement.lstrip()[:6] in ("SELECT", "DELETE"):
            captured.append((statement, parameters))

    engine = database.engine.sync_engine
    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        relay = OutboxRelay(database, OutboxEvent, Recorder())
        await relay.run_once()
        await relay.prune()
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    (claim, claim_parameters), (prune, prune_parameters) = captured

    postgresql = database.engine.dialect.name == "postgresql"
    async with database.engine.connect() as connection:
        if postgresql:  # on an empty table a sequential scan is cheapest: rule it out
            await connection.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
        plans = []
        for statement, parameters in ((claim, claim_parameters), (prune, prune_parameters)):
            rows = (await connection.exec_driver_sql(explain + statement, parameters)).all()
            plans.append("\n".join(" ".join(str(value) for value in row) for row in rows))
    claim_plan, prune_plan = plans
    assert "ix_outbox_test_event_pending" in claim_plan, claim_plan
    assert "ix_outbox_test_event_dispatched" in prune_plan, prune_plan
    for plan in plans:  # read in index order: no sort step
        assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


async def test_two_relays_publish_each_of_500_events_exactly_once(
    database: AsyncDatabaseManager,
) -> None:
    if database.engine.dialect.name != "postgresql":
        pytest.skip("concurrent relays need row locks (FOR UPDATE SKIP LOCKED): PostgreSQL")
    async with database.request_session() as session, atomic(session):
        session.add_all(
            OutboxEvent(topic="numbers", payload={"n": number}) for number in range(500)
        )
    published: list[tuple[int, int]] = []

    def target(relay_number: int) -> Any:
        async def publish(topic: str, payload: Any) -> None:
            await asyncio.sleep(0.001)  # let the other relays run meanwhile
            published.append((relay_number, payload["n"]))

        return publish

    async def drain(relay: OutboxRelay[OutboxEvent]) -> None:
        while await relay.run_once():
            pass

    relays = [
        OutboxRelay(database, OutboxEvent, target(number), batch_size=25) for number in range(2)
    ]
    await asyncio.gather(*(drain(relay) for relay in relays), *(drain(relay) for relay in relays))

    per_event = Counter(n for _, n in published)
    assert sorted(per_event) == list(range(500))
    assert set(per_event.values()) == {1}
    per_relay = Counter(relay for relay, _ in published)
    assert per_relay[0] > 0 and per_relay[1] > 0  # both relays did part of the work
    assert {event.status for event in await events(database)} == {OutboxStatus.DISPATCHED}


async def test_the_relay_publishes_to_rabbitmq(database: AsyncDatabaseManager) -> None:
    aio_pika = pytest.importorskip("aio_pika")
    url = service_url("TEMPEST_TEST_AMQP_URL")
    queue_name = f"tempest-test-outbox-{uuid.uuid4().hex}"
    await save(database, "espresso", "latte")

    connection = await aio_pika.connect_robust(url)
    try:
        # Publisher confirms (aio-pika's default): publish returns once the broker has it.
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, auto_delete=False)

        class RabbitRelay(OutboxRelay[OutboxEvent]):
            async def dispatch(self, event: OutboxEvent) -> None:
                message = aio_pika.Message(
                    json.dumps(event.payload).encode(),
                    message_id=str(event.id),
                    content_type="application/json",
                    headers={"topic": event.topic},
                )
                await channel.default_exchange.publish(message, routing_key=queue_name)

        relay = RabbitRelay(database, OutboxEvent, None)
        assert await relay.run_once() == 2

        received = []
        for _ in range(2):
            message = await queue.get(timeout=5, fail=True)
            await message.ack()
            received.append(
                (message.message_id, message.headers["topic"], json.loads(message.body))
            )
        assert await queue.get(fail=False) is None
        stored = await events(database)
        assert received == [(str(event.id), "orders.placed", event.payload) for event in stored]
        assert {event.status for event in stored} == {OutboxStatus.DISPATCHED}
    finally:
        if not connection.is_closed:
            cleanup = await connection.channel()
            await cleanup.queue_delete(queue_name)
        await connection.close()


async def test_a_relay_needs_a_publish_function_or_a_dispatch_method() -> None:
    with pytest.raises(TypeError, match="publish"):
        OutboxRelay(None, OutboxEvent, None)
    with pytest.raises(ValueError, match="batch_size"):
        OutboxRelay(None, OutboxEvent, Recorder(), batch_size=0)


async def test_exponential_backoff_doubles_up_to_the_cap() -> None:
    delay = exponential_backoff(timedelta(seconds=5), timedelta(seconds=30))
    assert [delay(n).total_seconds() for n in range(1, 6)] == [5, 10, 20, 30, 30]


async def test_run_forever_keeps_relaying_until_cancelled(database: AsyncDatabaseManager) -> None:
    target = Recorder()
    relay = OutboxRelay(database, OutboxEvent, target, batch_size=2)
    task = asyncio.create_task(relay.run_forever(0.01))
    try:
        await save(database, "a", "b", "c")
        for _ in range(500):
            if len(target.published) == 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [payload["name"] for _, payload in target.published] == ["a", "b", "c"]


# Helpers


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _make_due(database: AsyncDatabaseManager) -> None:
    async with database.request_session() as session, atomic(session):
        await session.execute(
            update(OutboxEvent).values(available_at=datetime.now(UTC) - timedelta(seconds=1))
        )


async def _set(
    database: AsyncDatabaseManager, prefix: str, status: OutboxStatus, age: timedelta
) -> None:
    async with database.request_session() as session, atomic(session):
        for event in (await session.scalars(select(OutboxEvent))).all():
            if event.payload["name"].startswith(prefix):
                event.status = status
                if status is OutboxStatus.DISPATCHED:
                    event.dispatched_at = datetime.now(UTC) - age
