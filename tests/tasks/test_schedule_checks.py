"""``@periodic`` refuses a bad cron, cron_offset or interval where it is declared.

And the scheduler's Redis lease, in process: held by one, given up when it cannot be kept.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from taskiq.cli.scheduler.run import is_cron_task_now

from tempest.tasks import periodic
from tempest.tasks.registry import unregister
from tests.conftest import service_url
from tests.helpers import free_port, manage, one_line_error


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    """Task names to take out of the registry after the test."""
    names: list[str] = []
    yield names
    for name in names:
        unregister(name)


@pytest.mark.parametrize(
    "expression",
    [
        "* * *",
        "61 * * * *",
        "every minute",
        "",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * JAN *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "1-70 * * * *",
        "a b c d e",
        "@daily",
        "* * * * * *",
    ],
)
def test_bad_cron_expressions_are_refused_at_declaration(expression: str) -> None:
    with pytest.raises(ValueError) as raised:
        periodic(cron=expression)
    message = str(raised.value)
    assert repr(expression) in message
    assert "minute hour day-of-month month day-of-week" in message
    assert "'*/5 * * * *'" in message


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/5 * * * *",
        "0 9 * * MON-FRI",
        "0,30 8-18/2 1,15 1-12 0-6",
        "59 23 31 12 sun",
        "0 0 * * fri-mon",
        "  0  9 * * 1  ",
    ],
)
def test_good_cron_expressions_are_accepted(expression: str, cleanup: list[str]) -> None:
    @periodic(cron=expression)
    async def job() -> None: ...

    cleanup.append(job.task_name)
    # TaskIQ's scheduler parses what was accepted (pycron splits on single spaces).
    cron = job.taskiq_labels()["schedule"][0]["cron"]
    is_cron_task_now(cron, datetime.now(UTC))


def test_cron_must_be_a_string_and_interval_a_number() -> None:
    with pytest.raises(TypeError, match="cron must be a string"):
        periodic(cron=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="interval must be"):
        periodic(interval="5s")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="interval must be"):
        periodic(interval=True)
    with pytest.raises(ValueError, match="at least 1 second"):
        periodic(interval=-5)


def test_cron_offset_is_checked_and_given_to_taskiq_in_a_form_it_reads(
    cleanup: list[str],
) -> None:
    for bad in ("-3", "UTC-3", "Mars/Olympus", "+25:00", ""):
        with pytest.raises(ValueError, match="cron_offset") as raised:
            periodic(cron="* * * * *", cron_offset=bad)
        assert repr(bad) in str(raised.value)
        assert "'-03:00'" in str(raised.value)
    with pytest.raises(ValueError, match="cron_offset"):
        periodic(cron="* * * * *", cron_offset=timedelta(hours=30))
    with pytest.raises(TypeError, match="cron_offset"):
        periodic(cron="* * * * *", cron_offset=3)  # type: ignore[arg-type]

    @periodic(cron="* * * * *", cron_offset="America/Sao_Paulo")
    @periodic(cron="0 9 * * *", cron_offset="-03:00")
    async def job() -> None: ...

    cleanup.append(job.task_name)
    offset, zone = (entry["cron_offset"] for entry in job.taskiq_labels()["schedule"])
    # TaskIQ reads a string as a time zone name: a UTC offset goes as a timedelta.
    assert offset == timedelta(hours=-3)
    assert zone == "America/Sao_Paulo"
    noon_utc = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert is_cron_task_now("0 9 * * *", noon_utc, offset)
    assert is_cron_task_now("0 9 * * *", noon_utc, zone)


def test_a_bad_cron_in_tasks_py_fails_the_commands_with_one_line(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("shop", "orders")
    (project / "orders" / "tasks.py").write_text(
        "from tempest.tasks import periodic\n\n\n"
        '@periodic(cron="61 * * * *")\n'
        "async def digest() -> None: ...\n"
    )
    line = one_line_error(manage(project, "tasks"))
    assert "orders.tasks" in line
    assert "'61 * * * *'" in line
    assert "minute field, '61' must be within 0-59" in line
    checked = manage(project, "check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    output = checked.stdout + checked.stderr
    [reported] = [line for line in output.splitlines() if "tempest.E030" in line]
    assert "orders.tasks" in reported and "'61 * * * *'" in reported


@pytest.mark.anyio
async def test_a_redis_lease_is_held_by_one_and_lost_when_taken_away() -> None:
    import redis.asyncio

    from tempest.tasks.lease import RedisLease

    url = service_url("TEMPEST_TEST_REDIS_URL")
    name = f"tempest:scheduler:test-{uuid.uuid4().hex[:8]}"
    first, second = RedisLease(url, name, 1.5), RedisLease(url, name, 1.5)
    client = redis.asyncio.Redis.from_url(url)
    try:
        await asyncio.wait_for(first.acquire(), 2)
        with pytest.raises(TimeoutError):  # the standby waits while the holder renews
            await asyncio.wait_for(asyncio.gather(first.watch(), second.acquire()), 3)
        # Someone else's token in the key: the holder's next renewal fails, it gives up.
        await client.set(name, "intruder", px=60_000)
        await asyncio.wait_for(first.watch(), 2)
        await first.release()  # leaves the intruder's key alone
        assert await client.get(name) == b"intruder"
    finally:
        await client.delete(name)
        await client.aclose()
        await second.release()


@pytest.mark.anyio
async def test_a_redis_lease_holder_stops_before_its_lease_ends_when_redis_is_gone() -> None:
    from tempest.tasks.lease import RedisLease

    url = service_url("TEMPEST_TEST_REDIS_URL")
    lease = RedisLease(url, f"tempest:scheduler:test-{uuid.uuid4().hex[:8]}", 1.5)
    await lease.acquire()
    # Redis goes away: point the holder at a port nobody listens on.
    lease._redis = type(lease._redis).from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    await asyncio.wait_for(lease.watch(), 3)
    assert time.monotonic() - started < 1.5  # gave up before its lease could run out
    await lease.release()
