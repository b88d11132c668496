"""The sliding-window logs of :class:`RateLimitMiddleware`: in memory or in Redis."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import math
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from tempest.utils.redis_pool import redis_outage_log, require_async_redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "MemoryRateLimitStore",
    "RateLimitResult",
    "RateLimitStore",
    "RateLimitUnavailableError",
    "RedisRateLimitStore",
]

logger = logging.getLogger("tempest.ratelimit")


class RateLimitResult(NamedTuple):
    """The outcome of one check.

    Attributes:
        allowed: Whether the request may go on (it was counted) or is refused.
        limit: Requests allowed per window.
        remaining: Requests still allowed in the current window, after this one.
        reset_after: Seconds until the oldest counted request leaves the window (a unit
            of quota comes back); 0 when nothing is counted.
        retry_after: Seconds to wait before a refused request may be tried again; 0
            when allowed.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float = 0.0


class RateLimitUnavailableError(Exception):
    """The store cannot be reached and fails closed: the request is answered 503."""


@runtime_checkable
class RateLimitStore(Protocol):
    """Where the sliding-window logs live. Implementations must check and count atomically."""

    async def hit(self, key: str, *, max_requests: int, window_seconds: float) -> RateLimitResult:
        """Count a request of ``key`` if the window has room, else refuse it.

        Args:
            key: The bucket (already bounded in length).
            max_requests: Requests allowed inside any window.
            window_seconds: Span of the sliding window.

        Raises:
            RateLimitUnavailableError: The store is down and fails closed.
        """
        ...

    async def aclose(self) -> None:
        """Release what the store holds (connections); a store may be closed twice."""
        ...


class MemoryRateLimitStore:
    """The logs in this process's memory: exact for one process, not shared.

    Per key, a deque of the monotonic times of the requests let through; idle keys are
    swept at most once per window, so memory follows the keys active in the last window.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty store.

        Args:
            clock: Seconds, monotonic; tests pass a fake one.
        """
        self._clock = clock
        self._logs: dict[str, collections.deque[float]] = {}
        self._next_sweep = 0.0

    def __len__(self) -> int:
        """Keys held now (swept keys excluded)."""
        return len(self._logs)

    async def hit(self, key: str, *, max_requests: int, window_seconds: float) -> RateLimitResult:
        """Count or refuse a request of ``key`` (see :meth:`RateLimitStore.hit`)."""
        return self.hit_now(key, max_requests=max_requests, window_seconds=window_seconds)

    def hit_now(self, key: str, *, max_requests: int, window_seconds: float) -> RateLimitResult:
        """The synchronous :meth:`hit` (nothing here awaits)."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now - window_seconds)
            self._next_sweep = now + window_seconds
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = collections.deque()
        horizon = now - window_seconds
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) < max_requests:
            log.append(now)
            return RateLimitResult(
                True, max_requests, max_requests - len(log), log[0] + window_seconds - now
            )
        wait = log[0] + window_seconds - now
        return RateLimitResult(False, max_requests, 0, wait, wait)

    def _sweep(self, horizon: float) -> None:
        for key in [key for key, log in self._logs.items() if not log or log[-1] <= horizon]:
            del self._logs[key]

    async def aclose(self) -> None:
        """Forget every log."""
        self._logs.clear()


# KEYS[1]: the sorted set of the times (µs, Redis server clock) of the requests let
# through. ARGV: max_requests, window (µs), a member unique to this request.
# Reply: {allowed, remaining, reset_after_ms}.
_LUA_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  count = count + 1
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local reset = 0
if oldest[2] then reset = math.ceil((tonumber(oldest[2]) + window - now) / 1000) end
return {allowed, limit - count, reset}
"""


class RedisRateLimitStore:
    """The logs in Redis, shared by every process and host using the same server.

    When Redis cannot be reached, ``fail_open=True`` (the default) counts in an
    in-process :class:`MemoryRateLimitStore` with the same limits, so each process
    still enforces the limit on its own (N processes let through up to N times the
    limit); ``fail_open=False`` refuses the request (the middleware answers 503).
    Either way the outage is logged once, and so is the recovery: while Redis is down
    it is tried again only after ``retry_seconds`` (one request probes it; requests that
    arrive meanwhile wait for its outcome), and shared counting resumes on its own when it
    answers.
    """

    def __init__(
        self,
        redis: Redis,
        fail_open: bool = True,
        *,
        prefix: str = "tempest:ratelimit:",
        retry_seconds: float = 2.0,
    ) -> None:
        """Use an existing ``redis.asyncio.Redis`` client.

        Args:
            redis: The client; it stays owned by the caller unless made by :meth:`from_url`.
            fail_open: When Redis is unreachable, count in this process (True) or refuse
                requests with 503 (False).
            prefix: Prepended to every Redis key this store writes.
            retry_seconds: While Redis is down, how long to wait before trying it again.

        Raises:
            TypeError: ``redis`` is not a ``redis.asyncio`` client.
        """
        require_async_redis(redis, parameter="redis", owner="RedisRateLimitStore")
        self.redis = redis
        self.fail_open = fail_open
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self.fallback = MemoryRateLimitStore()
        self._script = redis.register_script(_LUA_HIT)
        # A client from from_url() logs outages itself, with the masked URL.
        self._logs_outages = redis_outage_log(redis) is None
        self._owns_client = False
        self._down_until: float | None = None  # monotonic time of the next try while down
        self._probing: asyncio.Future[None] | None = None  # the request trying Redis again
        # Unique members without a random draw per request: a random prefix per store.
        self._member_prefix = f"{os.urandom(6).hex()}:"
        self._members = itertools.count()

    @classmethod
    def from_url(
        cls,
        url: str,
        fail_open: bool = True,
        *,
        prefix: str = "tempest:ratelimit:",
        timeout: float = 1.0,
        max_connections: int = 50,
    ) -> RedisRateLimitStore:
        """Connect to Redis at ``url``; close the store with :meth:`aclose`.

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            fail_open: See the class.
            prefix: Prepended to every Redis key this store writes.
            timeout: Seconds to wait for a connection or a reply before treating Redis as
                unreachable; short, since every request waits on it.
            max_connections: Connections this store opens at most (a burst waits for one).

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        client = blocking_redis_client(
            url,
            needed_by="RedisRateLimitStore",
            timeout=timeout,
            max_connections=max_connections,
            who="rate limit",
            consequence=_consequence(fail_open),
            logger=logger,
        )
        store = cls(client, fail_open, prefix=prefix)
        store._owns_client = True
        return store

    @property
    def available(self) -> bool:
        """Whether the last call reached Redis."""
        return self._down_until is None

    async def hit(self, key: str, *, max_requests: int, window_seconds: float) -> RateLimitResult:
        """Count or refuse a request of ``key`` (see :meth:`RateLimitStore.hit`).

        Raises:
            RateLimitUnavailableError: Redis is unreachable and the store fails closed.
        """
        if self._down_until is not None:
            if self._probing is not None:
                # Another request is trying Redis again: wait for its outcome rather than
                # count this one in memory while Redis may already be back.
                await asyncio.shield(self._probing)
            elif time.monotonic() >= self._down_until:
                return await self._probe(key, max_requests, window_seconds)
            if self._down_until is not None:
                return self._without_redis(key, max_requests, window_seconds)
        return await self._hit_redis(key, max_requests, window_seconds)

    async def _probe(self, key: str, max_requests: int, window_seconds: float) -> RateLimitResult:
        probing = self._probing = asyncio.get_running_loop().create_future()
        try:
            return await self._hit_redis(key, max_requests, window_seconds)
        finally:
            self._probing = None
            probing.set_result(None)

    async def _hit_redis(
        self, key: str, max_requests: int, window_seconds: float
    ) -> RateLimitResult:
        from redis.exceptions import RedisError

        try:
            allowed, remaining, reset_ms = await self._script(
                keys=[self.prefix + key],
                args=[
                    max_requests,
                    max(1, math.ceil(window_seconds * 1_000_000)),
                    f"{self._member_prefix}{next(self._members)}",
                ],
            )
        except (RedisError, OSError) as error:
            if self._down_until is None and self._logs_outages:
                logger.warning(
                    "rate limit: Redis unreachable (%s: %s); %s",
                    type(error).__name__,
                    error,
                    _consequence(self.fail_open),
                )
            self._down_until = time.monotonic() + self.retry_seconds
            return self._without_redis(key, max_requests, window_seconds)
        if self._down_until is not None:
            self._down_until = None
            if self._logs_outages:
                logger.warning("rate limit: Redis answers again; counting is shared again")
            await self.fallback.aclose()
        reset = int(reset_ms) / 1000
        if allowed:
            return RateLimitResult(True, max_requests, int(remaining), reset)
        return RateLimitResult(False, max_requests, 0, reset, reset)

    def _without_redis(self, key: str, max_requests: int, window_seconds: float) -> RateLimitResult:
        if not self.fail_open:
            raise RateLimitUnavailableError("the rate limit's Redis cannot be reached")
        return self.fallback.hit_now(key, max_requests=max_requests, window_seconds=window_seconds)

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it; a client passed in stays open."""
        await self.fallback.aclose()
        if self._owns_client:
            self._owns_client = False
            await self.redis.aclose(close_connection_pool=True)


def _consequence(fail_open: bool) -> str:
    if fail_open:
        return "counting in each process until it is back"
    return "limited requests answer 503 until it is back"
