"""Where :class:`~tempest.api.middleware.idempotency.IdempotencyMiddleware` keeps its keys.

A store holds one opaque value per (hashed) key: either the *lease* of the request that
is running, which expires after the lease time, or the *record* of its finished answer,
which expires after the TTL. Three operations, each atomic:

- :meth:`IdempotencyStore.claim` takes the lease when the key is free, or returns what
  the key holds (a lease or a record) without changing it;
- :meth:`IdempotencyStore.complete` replaces the lease by the record, only while the
  caller still holds its lease (an expired lease taken over by another request is left
  alone);
- :meth:`IdempotencyStore.release` frees the key, only while the caller holds its lease.

:class:`MemoryIdempotencyStore` keeps the values in the process (one worker);
:class:`RedisIdempotencyStore` in Redis, one Lua script per operation, shared by every
process and host.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tempest.exceptions.stores import IdempotencyStoreUnavailableError
from tempest.utils.redis_pool import DEFAULT_TIMEOUT, require_async_redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "IdempotencyStore",
    "IdempotencyStoreUnavailableError",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
]


@runtime_checkable
class IdempotencyStore(Protocol):
    """The storage of idempotency keys (see the module docstring for the semantics)."""

    async def claim(self, key: str, lease: bytes, lease_seconds: float) -> bytes | None:
        """Take the lease of ``key`` if it is free, atomically.

        Args:
            key: The hashed, scoped key.
            lease: The value the lease holds (unique per request).
            lease_seconds: How long the lease lasts unless completed or released.

        Returns:
            None when the lease was taken; otherwise the value the key holds.
        """
        ...

    async def complete(self, key: str, lease: bytes, record: bytes, ttl_seconds: float) -> bool:
        """Replace the lease ``lease`` by ``record`` for ``ttl_seconds``.

        Returns:
            Whether the record was stored (False: the lease was no longer held).
        """
        ...

    async def release(self, key: str, lease: bytes) -> None:
        """Free ``key`` if it still holds ``lease``."""
        ...

    async def aclose(self) -> None:
        """Release the store's resources (connections it opened)."""
        ...


class MemoryIdempotencyStore:
    """Keys in this process's memory: right for one worker, tests and ``runserver``.

    Expired keys are dropped when they are looked up, and all of them every
    ``sweep_every`` new keys, so memory stays bounded by the keys alive within the TTL.
    """

    def __init__(self, *, sweep_every: int = 1024) -> None:
        """Create an empty store.

        Args:
            sweep_every: Drop every expired key after this many new keys.
        """
        if sweep_every < 1:
            raise ValueError("sweep_every must be at least 1")
        self._values: dict[str, tuple[bytes, float]] = {}
        # A threading lock: one store may serve event loops of several threads.
        self._lock = threading.Lock()
        self._sweep_every = sweep_every
        self._added = 0

    def _live(self, key: str, now: float) -> bytes | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._values[key]
            return None
        return entry[0]

    async def claim(self, key: str, lease: bytes, lease_seconds: float) -> bytes | None:
        """Take the lease of ``key`` if it is free (see :class:`IdempotencyStore`)."""
        now = time.monotonic()
        with self._lock:
            held = self._live(key, now)
            if held is not None:
                return held
            self._values[key] = (lease, now + lease_seconds)
            self._added += 1
            if self._added >= self._sweep_every:
                self._added = 0
                for stale in [k for k, (_v, until) in self._values.items() if until <= now]:
                    del self._values[stale]
            return None

    async def complete(self, key: str, lease: bytes, record: bytes, ttl_seconds: float) -> bool:
        """Store ``record`` if ``lease`` is still held (see :class:`IdempotencyStore`)."""
        now = time.monotonic()
        with self._lock:
            if self._live(key, now) != lease:
                return False
            self._values[key] = (record, now + ttl_seconds)
            return True

    async def release(self, key: str, lease: bytes) -> None:
        """Free ``key`` if it holds ``lease`` (see :class:`IdempotencyStore`)."""
        with self._lock:
            if self._live(key, time.monotonic()) == lease:
                del self._values[key]

    async def aclose(self) -> None:
        """Nothing to close."""


# KEYS[1]: the key; ARGV[1]: the lease; ARGV[2]: the lease's lifetime in ms.
_LUA_CLAIM = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# ARGV[1]: the caller's lease; ARGV[2]: the record; ARGV[3]: its lifetime in ms.
_LUA_COMPLETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""

# ARGV[1]: the caller's lease.
_LUA_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisIdempotencyStore:
    """Keys in Redis, shared by every process and host using the same server.

    Each operation is one Lua script run by its SHA (one round trip); the lease and the
    record expire on Redis's clock (``PX``), so a request killed mid-way frees its key
    when its lease runs out. A Redis error or an unreachable server raises
    :class:`IdempotencyStoreUnavailableError`.
    """

    def __init__(self, client: Redis, *, prefix: str = "tempest:idempotency:") -> None:
        """Use an existing ``redis.asyncio.Redis`` client (``decode_responses=False``).

        Args:
            client: The client; it stays owned by the caller.
            prefix: Prepended to every Redis key this store writes.

        Raises:
            TypeError: ``client`` is not a ``redis.asyncio`` client.
        """
        require_async_redis(client, parameter="client", owner="RedisIdempotencyStore")
        self.client = client
        self.prefix = prefix
        self._owns_client = False
        self._claim = client.register_script(_LUA_CLAIM)
        self._complete = client.register_script(_LUA_COMPLETE)
        self._release = client.register_script(_LUA_RELEASE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tempest:idempotency:",
        timeout: float | None = DEFAULT_TIMEOUT,
        max_connections: int = 50,
    ) -> RedisIdempotencyStore:
        """Connect to Redis at ``url``; close the store with :meth:`aclose`.

        The connections come from a blocking pool: a burst of more concurrent requests
        than ``max_connections`` waits for a free connection (up to ``timeout``).

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            prefix: Prepended to every Redis key this store writes.
            timeout: Seconds to wait for a connection or a reply before
                :class:`IdempotencyStoreUnavailableError`; None waits forever.
            max_connections: Connections this store opens at most.

        Returns:
            A store that owns its client.

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        client = blocking_redis_client(
            url,
            needed_by="RedisIdempotencyStore",
            who="idempotency keys",
            consequence=(
                "requests with an Idempotency-Key answer 503 (or run without it under "
                "IDEMPOTENCY_FAIL_OPEN) until it is back"
            ),
            timeout=timeout,
            max_connections=max_connections,
        )
        store = cls(client, prefix=prefix)
        store._owns_client = True
        return store

    async def claim(self, key: str, lease: bytes, lease_seconds: float) -> bytes | None:
        """Take the lease of ``key`` if it is free (see :class:`IdempotencyStore`)."""
        async with _unavailable():
            held = await self._claim(keys=[self.prefix + key], args=[lease, _ms(lease_seconds)])
        return bytes(held) if held is not None else None

    async def complete(self, key: str, lease: bytes, record: bytes, ttl_seconds: float) -> bool:
        """Store ``record`` if ``lease`` is still held (see :class:`IdempotencyStore`)."""
        async with _unavailable():
            done = await self._complete(
                keys=[self.prefix + key], args=[lease, record, _ms(ttl_seconds)]
            )
        return bool(done)

    async def release(self, key: str, lease: bytes) -> None:
        """Free ``key`` if it holds ``lease`` (see :class:`IdempotencyStore`)."""
        async with _unavailable():
            await self._release(keys=[self.prefix + key], args=[lease])

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it; a client passed in stays open."""
        if self._owns_client:
            await self.client.aclose(close_connection_pool=True)


@asynccontextmanager
async def _unavailable() -> AsyncIterator[None]:
    """Turn a Redis or network error into :class:`IdempotencyStoreUnavailableError`."""
    from redis.exceptions import RedisError

    try:
        yield
    except (RedisError, OSError) as error:
        raise IdempotencyStoreUnavailableError(
            f"the idempotency store's Redis could not be reached: {type(error).__name__}: {error}"
        ) from error


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
