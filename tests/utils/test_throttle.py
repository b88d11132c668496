from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator

import pytest

from tempest.utils.throttle import (
    AttemptThrottle,
    MemoryThrottleBackend,
    RedisThrottleBackend,
    ThrottleBackend,
    ThrottleResult,
    ThrottleStatus,
)
from tests.conftest import service_url

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def _open_redis_backend() -> RedisThrottleBackend:
    """A backend on the real Redis, under a prefix of its own."""
    prefix = f"tempest-test:throttle:{uuid.uuid4().hex}:"
    return RedisThrottleBackend.from_url(service_url("TEMPEST_TEST_REDIS_URL"), prefix=prefix)


async def _close_redis_backend(backend: RedisThrottleBackend) -> None:
    """Delete every key under the backend's prefix and close it."""
    keys = [key async for key in backend.client.scan_iter(match=backend.prefix + "*")]
    if keys:
        await backend.client.delete(*keys)
    await backend.aclose()


@pytest.fixture
async def redis_backend() -> AsyncIterator[RedisThrottleBackend]:
    backend = await _open_redis_backend()
    try:
        yield backend
    finally:
        await _close_redis_backend(backend)


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[ThrottleBackend]:
    """Each behaviour test runs on both backends."""
    if request.param == "memory":
        yield MemoryThrottleBackend()
        return
    redis = await _open_redis_backend()
    try:
        yield redis
    finally:
        await _close_redis_backend(redis)


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -3])
async def test_max_attempts_below_one_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match=f"max_attempts must be at least 1, got {value}"):
        AttemptThrottle(max_attempts=value)


async def test_max_attempts_must_be_an_integer() -> None:
    with pytest.raises(TypeError, match="max_attempts must be an integer, got str"):
        AttemptThrottle(max_attempts="5")  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["window_seconds", "lock_seconds"])
@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf])
async def test_durations_must_be_positive_and_finite(option: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a positive, finite number"):
        AttemptThrottle(**{option: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["300", True, None])
async def test_durations_must_be_numbers(value: object) -> None:
    with pytest.raises(TypeError, match="window_seconds must be a number of seconds"):
        AttemptThrottle(window_seconds=value)  # type: ignore[arg-type]


async def test_a_backend_that_is_not_a_throttle_backend_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"backend must be a ThrottleBackend, got dict.*RedisThrottleBackend"
    ):
        AttemptThrottle(backend={})  # type: ignore[arg-type]


async def test_a_raw_redis_client_must_be_wrapped() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        with pytest.raises(
            TypeError, match=r"wrap a Redis client in RedisThrottleBackend\(client\)"
        ):
            AttemptThrottle(backend=client)  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def test_redis_backend_needs_a_redis_client() -> None:
    with pytest.raises(TypeError, match=r"client must be a redis\.asyncio\.Redis client, got str"):
        RedisThrottleBackend("redis://localhost")  # type: ignore[arg-type]


async def test_an_empty_key_is_refused() -> None:
    throttle = AttemptThrottle()
    for call in (throttle.check, throttle.record_failure, throttle.reset):
        with pytest.raises(ValueError, match="throttle key must not be empty"):
            await call("")


async def test_a_key_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="throttle key must be a string, got int"):
        await AttemptThrottle().check(42)  # type: ignore[arg-type]


# --- behaviour on both backends ---------------------------------------------------------


async def test_a_fresh_key_is_allowed_with_every_attempt(backend: ThrottleBackend) -> None:
    result = await AttemptThrottle(backend, max_attempts=5).inspect("login:ana")
    assert result == ThrottleResult(ThrottleStatus.ALLOWED, 5, 0)
    assert result.status is ThrottleStatus.ALLOWED and not result.locked


async def test_failures_count_down_the_attempts_left(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=5)
    assert (await throttle.record_failure("login:ana")).attempts_left == 4
    assert (await throttle.record_failure("login:ana")).attempts_left == 3
    assert await throttle.inspect("login:ana") == ThrottleResult(ThrottleStatus.ALLOWED, 3, 0)


async def test_the_throttle_locks_after_n_failures_and_reports_retry_after(
    backend: ThrottleBackend,
) -> None:
    throttle = AttemptThrottle(backend, max_attempts=3, lock_seconds=900)
    await throttle.record_failure("login:ana")
    await throttle.record_failure("login:ana")
    tripped = await throttle.record_failure("login:ana")
    assert tripped.status is ThrottleStatus.LOCKED
    assert tripped.retry_after_seconds == 900
    assert tripped.attempts_left == 0
    result = await throttle.inspect("login:ana")
    assert result.status is ThrottleStatus.LOCKED and result.locked
    assert 0 < result.retry_after_seconds <= 900
    assert result.attempts_left == 0


async def test_failures_while_locked_do_not_extend_the_lock(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=1, lock_seconds=60)
    first = await throttle.record_failure("login:ana")
    again = await throttle.record_failure("login:ana")
    assert again.status is ThrottleStatus.LOCKED
    assert 0 < again.retry_after_seconds <= first.retry_after_seconds == 60


async def test_reset_unlocks_the_key(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=2)
    await throttle.record_failure("login:ana")
    await throttle.record_failure("login:ana")
    assert (await throttle.inspect("login:ana")).locked
    await throttle.reset("login:ana")
    assert await throttle.inspect("login:ana") == ThrottleResult(ThrottleStatus.ALLOWED, 2, 0)


async def test_reset_clears_failures_below_the_threshold(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=3)
    await throttle.record_failure("login:ana")
    await throttle.record_failure("login:ana")
    await throttle.reset("login:ana")
    assert (await throttle.record_failure("login:ana")).attempts_left == 2


async def test_keys_are_throttled_independently(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=1)
    assert (await throttle.record_failure("login:ana")).locked
    assert await throttle.inspect("login:bob") == ThrottleResult(ThrottleStatus.ALLOWED, 1, 0)
    assert await throttle.inspect("reset:ana") == ThrottleResult(ThrottleStatus.ALLOWED, 1, 0)


# --- the window and the lock over time --------------------------------------------------


async def test_memory_failures_older_than_the_window_do_not_count() -> None:
    clock = FakeClock()
    throttle = AttemptThrottle(
        MemoryThrottleBackend(clock=clock), max_attempts=3, window_seconds=300
    )
    await throttle.record_failure("k")
    await throttle.record_failure("k")
    clock.now += 300
    assert await throttle.inspect("k") == ThrottleResult(ThrottleStatus.ALLOWED, 3, 0)
    assert (await throttle.record_failure("k")).attempts_left == 2


async def test_memory_window_slides_instead_of_resetting() -> None:
    clock = FakeClock()
    throttle = AttemptThrottle(
        MemoryThrottleBackend(clock=clock), max_attempts=3, window_seconds=300
    )
    await throttle.record_failure("k")  # t=0
    clock.now += 200
    await throttle.record_failure("k")  # t=200
    clock.now += 101
    assert not (await throttle.record_failure("k")).locked  # t=301: the t=0 failure left
    clock.now += 1
    assert (await throttle.record_failure("k")).locked  # t=302: three inside (2, 302]


async def test_memory_lock_expires_and_gives_every_attempt_back() -> None:
    clock = FakeClock()
    throttle = AttemptThrottle(MemoryThrottleBackend(clock=clock), max_attempts=2, lock_seconds=900)
    await throttle.record_failure("k")
    await throttle.record_failure("k")
    clock.now += 899.5
    assert (await throttle.inspect("k")).retry_after_seconds == 1
    clock.now += 0.5
    assert await throttle.inspect("k") == ThrottleResult(ThrottleStatus.ALLOWED, 2, 0)


async def test_redis_lock_and_window_expire(redis_backend: RedisThrottleBackend) -> None:
    throttle = AttemptThrottle(redis_backend, max_attempts=2, window_seconds=0.3, lock_seconds=0.3)
    await throttle.record_failure("k")
    await asyncio.sleep(0.4)
    assert (await throttle.record_failure("k")).attempts_left == 1  # the first one aged out
    assert (await throttle.record_failure("k")).locked
    assert (await throttle.inspect("k")).retry_after_seconds == 1
    await asyncio.sleep(0.4)
    assert await throttle.inspect("k") == ThrottleResult(ThrottleStatus.ALLOWED, 2, 0)


# --- Redis: shared and atomic -----------------------------------------------------------


async def test_two_throttles_sharing_one_redis_see_the_same_count(
    redis_backend: RedisThrottleBackend,
) -> None:
    other = RedisThrottleBackend.from_url(
        service_url("TEMPEST_TEST_REDIS_URL"), prefix=redis_backend.prefix
    )
    try:
        web_1 = AttemptThrottle(redis_backend, max_attempts=4)
        web_2 = AttemptThrottle(other, max_attempts=4)
        await web_1.record_failure("login:ana")
        await web_1.record_failure("login:ana")
        assert (await web_2.inspect("login:ana")).attempts_left == 2
        await web_2.record_failure("login:ana")
        assert (await web_2.record_failure("login:ana")).locked
        assert (await web_1.inspect("login:ana")).locked
        await web_1.reset("login:ana")
        assert not (await web_2.inspect("login:ana")).locked
    finally:
        await other.aclose()


async def test_concurrent_failures_from_several_clients_are_counted_exactly(
    redis_backend: RedisThrottleBackend,
) -> None:
    clients = [
        RedisThrottleBackend.from_url(
            service_url("TEMPEST_TEST_REDIS_URL"), prefix=redis_backend.prefix
        )
        for _ in range(4)
    ]
    try:
        throttles = [AttemptThrottle(client, max_attempts=5) for client in clients]
        results = await asyncio.gather(
            *(throttles[i % 4].record_failure("login:ana") for i in range(40))
        )
        allowed = sorted(r.attempts_left for r in results if r.status is ThrottleStatus.ALLOWED)
        assert allowed == [1, 2, 3, 4]  # each failure counted once, the fifth set the lock
        assert sum(r.locked for r in results) == 36
    finally:
        for client in clients:
            await client.aclose()


async def test_redis_keys_expire_on_their_own(redis_backend: RedisThrottleBackend) -> None:
    throttle = AttemptThrottle(redis_backend, max_attempts=2, window_seconds=300, lock_seconds=900)
    await throttle.record_failure("login:ana")
    keys = [key async for key in redis_backend.client.scan_iter(match=redis_backend.prefix + "*")]
    assert len(keys) == 1
    assert 0 < await redis_backend.client.pttl(keys[0]) <= 300_000
    await throttle.record_failure("login:ana")
    keys = [key async for key in redis_backend.client.scan_iter(match=redis_backend.prefix + "*")]
    assert len(keys) == 1  # the failures were dropped, only the lock is left
    assert 0 < await redis_backend.client.pttl(keys[0]) <= 900_000


async def test_redis_reset_deletes_the_keys(redis_backend: RedisThrottleBackend) -> None:
    throttle = AttemptThrottle(redis_backend, max_attempts=1)
    await throttle.record_failure("login:ana")
    await throttle.reset("login:ana")
    keys = [key async for key in redis_backend.client.scan_iter(match=redis_backend.prefix + "*")]
    assert keys == []


async def test_a_client_passed_in_stays_open_after_aclose() -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(service_url("TEMPEST_TEST_REDIS_URL"))
    try:
        await RedisThrottleBackend(client).aclose()
        assert await client.ping() is True
    finally:
        await client.aclose()


# --- reserve first: attempt / release ----------------------------------------------------


async def test_check_then_record_lets_every_concurrent_request_through(
    backend: ThrottleBackend,
) -> None:
    """The attack on check-then-record: 200 requests all pass the check at once."""
    throttle = AttemptThrottle(backend, max_attempts=5)
    checks = await asyncio.gather(*(throttle.check("k") for _ in range(200)))
    # why the sign-in reserves instead:
    assert all(status is ThrottleStatus.ALLOWED for status in checks)


async def test_two_hundred_concurrent_attempts_allow_exactly_max_attempts(
    backend: ThrottleBackend,
) -> None:
    throttle = AttemptThrottle(backend, max_attempts=5, window_seconds=60, lock_seconds=120)
    results = await asyncio.gather(*(throttle.attempt("k") for _ in range(200)))
    allowed = [result for result in results if result.status is ThrottleStatus.ALLOWED]
    assert len(allowed) == 5
    assert sorted(result.attempts_left for result in allowed) == [0, 1, 2, 3, 4]
    assert len({result.attempt_id for result in allowed}) == 5
    locked = [result for result in results if result.locked]
    assert len(locked) == 195
    assert all(0 < result.retry_after_seconds <= 120 for result in locked)
    assert (await throttle.inspect("k")).locked


async def test_the_last_allowed_attempt_says_when_to_retry(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=2, window_seconds=60, lock_seconds=600)
    first = await throttle.attempt("k")
    assert (first.status, first.attempts_left, first.retry_after_seconds) == (
        ThrottleStatus.ALLOWED,
        1,
        0,
    )
    last = await throttle.attempt("k")
    assert (last.status, last.attempts_left, last.retry_after_seconds) == (
        ThrottleStatus.ALLOWED,
        0,
        60,
    )
    refused = await throttle.attempt("k")
    assert refused.locked and 590 <= refused.retry_after_seconds <= 600
    assert refused.attempt_id == ""
    # Attempts while locked do not extend the lock.
    again = await throttle.attempt("k")
    assert again.retry_after_seconds <= refused.retry_after_seconds


async def test_reset_after_a_success_gives_every_attempt_back(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=2)
    await throttle.attempt("k")
    await throttle.attempt("k")
    await throttle.reset("k")
    assert (await throttle.attempt("k")).attempts_left == 1


async def test_release_gives_back_only_its_own_attempt(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=3)
    failed = await throttle.attempt("k")
    succeeded = await throttle.attempt("k")
    await throttle.release("k", succeeded)
    await throttle.release("k", succeeded.attempt_id)  # twice: nothing more
    await throttle.release("k", "an id never given")
    assert (await throttle.inspect("k")).attempts_left == 2  # the failure still counts
    assert failed.attempt_id != succeeded.attempt_id
    await throttle.release("other key", failed)  # an unknown key: nothing


async def test_attempts_and_failures_share_the_count(backend: ThrottleBackend) -> None:
    throttle = AttemptThrottle(backend, max_attempts=3)
    await throttle.record_failure("k")
    await throttle.attempt("k")
    assert (await throttle.inspect("k")).attempts_left == 1
    assert (await throttle.attempt("k")).attempts_left == 0
    assert (await throttle.attempt("k")).locked


async def test_memory_attempts_leave_the_window_and_the_lock_expires() -> None:
    clock = FakeClock()
    throttle = AttemptThrottle(
        MemoryThrottleBackend(clock=clock), max_attempts=2, window_seconds=10, lock_seconds=30
    )
    await throttle.attempt("k")
    clock.now += 6
    await throttle.attempt("k")
    clock.now += 5  # the first left the window
    assert (await throttle.attempt("k")).status is ThrottleStatus.ALLOWED
    assert (await throttle.attempt("k")).locked
    clock.now += 31
    assert (await throttle.attempt("k")).attempts_left == 1


async def test_redis_attempts_from_several_clients_allow_exactly_max_attempts() -> None:
    """Two processes (two clients on one Redis) reserving at once: 5 allowed in all."""
    first, second = await _open_redis_backend(), await _open_redis_backend()
    second.prefix = first.prefix
    try:
        throttles = [AttemptThrottle(b, max_attempts=5) for b in (first, second)]
        results = await asyncio.gather(*(throttles[n % 2].attempt("k") for n in range(200)))
        assert sum(1 for result in results if not result.locked) == 5
    finally:
        await _close_redis_backend(second)
        await _close_redis_backend(first)


async def test_an_unreachable_redis_raises_throttle_unavailable() -> None:
    from tempest.utils.throttle import ThrottleUnavailableError
    from tests.helpers import free_port

    backend = RedisThrottleBackend.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=1)
    throttle = AttemptThrottle(backend)
    try:
        for call in (
            throttle.attempt("k"),
            throttle.check("k"),
            throttle.record_failure("k"),
            throttle.reset("k"),
            throttle.release("k", "id"),
        ):
            with pytest.raises(ThrottleUnavailableError, match="could not be reached"):
                await call
    finally:
        await backend.aclose()
