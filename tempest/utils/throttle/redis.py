"""RedisThrottleBackend: the counts in Redis, one Lua script (run by its SHA) per operation."""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from tempest.utils.redis_pool import (
    DEFAULT_TIMEOUT,
    blocking_redis_client,
    require_async_redis,
)
from tempest.utils.throttle.base import AttemptState, ThrottleState, ThrottleUnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisClientSource", "RedisThrottleBackend"]


class RedisClientSource(Protocol):
    """Anything with a live ``client``, like :class:`tempest.cache.AsyncRedisManager`."""

    @property
    def client(self) -> Redis:
        """The live ``redis.asyncio.Redis`` client; RuntimeError before it connects."""
        ...


# KEYS[1]: sorted set of failure times (ms); KEYS[2]: lock flag with a TTL.
# The server clock is used so that hosts with skewed clocks agree.
_LUA_NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""

_LUA_CHECK = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, locked_for} end
local since = string.format('(%d', now - tonumber(ARGV[1]))
return {redis.call('ZCOUNT', KEYS[1], since, '+inf'), 0}
"""
)

# ARGV: max_attempts, window_ms, lock_ms, a unique member for this failure.
_LUA_RECORD_FAILURE = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, locked_for} end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4])
local failures = redis.call('ZCARD', KEYS[1])
if failures >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {0, tonumber(ARGV[3])}
end
redis.call('PEXPIRE', KEYS[1], window)
return {failures, 0}
"""
)


# ARGV: max_attempts, window_ms, lock_ms, the attempt's id. Reply: {allowed, attempts, lock_ms}.
_LUA_ATTEMPT = (
    _LUA_NOW
    + """
local locked_for = redis.call('PTTL', KEYS[2])
if locked_for > 0 then return {0, 0, locked_for} end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {0, 0, tonumber(ARGV[3])}
end
redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, redis.call('ZCARD', KEYS[1]), 0}
"""
)


class RedisThrottleBackend:
    """Keep the counts in Redis, shared by every process and host using the same server.

    Each operation is one Lua script run by its SHA, on the Redis server's clock, so
    concurrent attempts from several processes are counted exactly and the lock is set
    once. Keys expire on their own; nothing needs cleaning up. A Redis error or an
    unreachable server raises :class:`ThrottleUnavailableError`.
    """

    def __init__(
        self,
        client: Redis | None = None,
        *,
        redis_manager: RedisClientSource | None = None,
        prefix: str = "tempest:throttle:",
    ) -> None:
        """Use an existing ``redis.asyncio.Redis`` client, or the client of a manager.

        Args:
            client: The client; it stays owned by the caller.
            redis_manager: Instead of ``client``: an object whose ``client`` attribute is
                the live client, such as :class:`tempest.cache.AsyncRedisManager`. It is
                read at each operation, so the backend can be built before the manager
                connects (at import time) and follows it when it reconnects.
            prefix: Prepended to every Redis key this backend writes.

        Raises:
            TypeError: Neither or both of ``client`` and ``redis_manager`` given,
                ``client`` is not a ``redis.asyncio`` client, or ``redis_manager`` has no
                ``client``.
        """
        if (client is None) == (redis_manager is None):
            raise TypeError(
                "RedisThrottleBackend takes either a client or redis_manager=, not "
                f"{'both' if client is not None else 'neither'}; or use "
                "RedisThrottleBackend.from_url(url)"
            )
        if redis_manager is not None and not hasattr(type(redis_manager), "client"):
            raise TypeError(
                "redis_manager must have a .client (e.g. tempest.cache.AsyncRedisManager), "
                f"got {type(redis_manager).__name__}"
            )
        if client is not None:
            require_async_redis(client, parameter="client", owner="RedisThrottleBackend")
        self._client = client
        self.redis_manager = redis_manager
        self.prefix = prefix
        self._owns_client = False
        self._scripts_client: Redis | None = None
        self._scripts: tuple[AsyncScript, AsyncScript, AsyncScript] | None = None

    @property
    def client(self) -> Redis:
        """The client the operations use: the one given, or the manager's live one.

        Raises:
            ThrottleUnavailableError: The manager is not connected.
        """
        if self._client is not None:
            return self._client
        try:
            return self.redis_manager.client  # type: ignore[union-attr]
        except RuntimeError as error:
            raise ThrottleUnavailableError(
                f"the throttle's Redis manager is not connected ({error}); call "
                "await manager.connect() in the app's lifespan"
            ) from error

    def _bound_scripts(self) -> tuple[Redis, tuple[AsyncScript, AsyncScript, AsyncScript]]:
        """The client and the three scripts registered on it (again if the client changed)."""
        client = self.client
        if self._scripts is None or client is not self._scripts_client:
            self._scripts = (
                client.register_script(_LUA_CHECK),
                client.register_script(_LUA_RECORD_FAILURE),
                client.register_script(_LUA_ATTEMPT),
            )
            self._scripts_client = client
        return client, self._scripts

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tempest:throttle:",
        timeout: float | None = DEFAULT_TIMEOUT,
        max_connections: int = 50,
    ) -> RedisThrottleBackend:
        """Connect to Redis at ``url``; close the backend with :meth:`aclose`.

        The connections come from a blocking pool: a burst of more concurrent requests
        than ``max_connections`` waits for a free connection (up to ``timeout``) instead
        of failing, as redis-py's default pool does past its size.

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            prefix: Prepended to every Redis key this backend writes.
            timeout: Seconds to wait for a connection, a free one in the pool or a reply
                before :class:`ThrottleUnavailableError` (2 by default); None waits forever.
            max_connections: Connections this backend opens at most.

        Returns:
            A backend that owns its client.

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        client = blocking_redis_client(
            url,
            needed_by="RedisThrottleBackend",
            timeout=timeout,
            max_connections=max_connections,
            who="sign-in throttle",
            consequence="sign-in and one-time codes answer 503 until it is back",
        )
        backend = cls(client, prefix=prefix)
        backend._owns_client = True
        return backend

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it; a client given stays open."""
        if self._owns_client:
            await self.client.aclose(close_connection_pool=True)

    async def check(self, key: str, *, window_seconds: float) -> ThrottleState:
        """Return the state of ``key`` without changing it (see :class:`ThrottleBackend`).

        Args:
            key: The throttled key.
            window_seconds: Only failures this recent count.

        Returns:
            The key's state.
        """
        async with _unavailable():
            client, (script, _, _) = self._bound_scripts()
            reply = await script(keys=self._keys(key), args=[_ms(window_seconds)], client=client)
        return _state(reply)

    async def record_failure(
        self, key: str, *, max_attempts: int, window_seconds: float, lock_seconds: float
    ) -> ThrottleState:
        """Record a failure atomically (see :meth:`ThrottleBackend.record_failure`).

        Args:
            key: The throttled key.
            max_attempts: Failures inside the window that lock the key.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            The key's state after the failure.
        """
        async with _unavailable():
            client, (_, script, _) = self._bound_scripts()
            reply = await script(
                keys=self._keys(key),
                args=[max_attempts, _ms(window_seconds), _ms(lock_seconds), uuid.uuid4().hex],
                client=client,
            )
        return _state(reply)

    async def attempt(
        self,
        key: str,
        attempt_id: str,
        *,
        max_attempts: int,
        window_seconds: float,
        lock_seconds: float,
    ) -> AttemptState:
        """Count an attempt or refuse it, atomically (see :meth:`ThrottleBackend.attempt`).

        Args:
            key: The throttled key.
            attempt_id: A unique id for this attempt.
            max_attempts: Attempts allowed inside the window.
            window_seconds: Span of the sliding window.
            lock_seconds: How long the lock lasts.

        Returns:
            Whether the attempt is allowed, with the count or the lock left.
        """
        async with _unavailable():
            client, (_, _, script) = self._bound_scripts()
            allowed, attempts, locked_ms = await script(
                keys=self._keys(key),
                args=[max_attempts, _ms(window_seconds), _ms(lock_seconds), attempt_id],
                client=client,
            )
        return AttemptState(bool(allowed), int(attempts), int(locked_ms) / 1000)

    async def release(self, key: str, attempt_id: str) -> None:
        """Forget one attempt (see :meth:`ThrottleBackend.release`).

        Args:
            key: The throttled key.
            attempt_id: The id given to :meth:`attempt`.
        """
        async with _unavailable():
            await self.client.zrem(self._keys(key)[0], attempt_id)

    async def reset(self, key: str) -> None:
        """Forget ``key``.

        Args:
            key: The throttled key.
        """
        async with _unavailable():
            await self.client.delete(*self._keys(key))

    def _keys(self, key: str) -> list[str]:
        # The {hash tag} keeps both keys in one Redis Cluster slot, as a script requires.
        base = f"{self.prefix}{{{key}}}"
        return [f"{base}:failures", f"{base}:lock"]


@asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    """Turn a Redis or network error into :class:`ThrottleUnavailableError`."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as error:
        raise ThrottleUnavailableError(
            f"the throttle's Redis could not be reached: {type(error).__name__}: {error}"
        ) from error


def _state(reply: Any) -> ThrottleState:
    failures, locked_ms = reply
    return ThrottleState(int(failures), int(locked_ms) / 1000)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
