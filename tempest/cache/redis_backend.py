"""The cache in Redis, shared by every process and host using the same server.

One round trip per read (``MGET`` of the entry and its namespace and tag counters), one
per write (``SET ... PX``); the single-flight lease is ``SET NX PX``, renewed and given
back by two small scripts that check the holder's token. Nothing here lists keys
(``KEYS``/``SCAN``): invalidation increments counters.

When Redis cannot be reached the backend raises :class:`CacheUnavailableError` and the
cache is bypassed (the cached function runs); the outage is logged once, Redis is tried
again after ``retry_seconds``, and the recovery is logged too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tempest.cache.backends import CacheUnavailableError
from tempest.cache.entries import Entry, decode_entry, encode_entry
from tempest.cache.keys import DEFAULT_PREFIX
from tempest.utils.redis_pool import require_async_redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCacheBackend"]

logger = logging.getLogger("tempest.cache")

_CONSEQUENCE = "cached functions and routes run uncached until it is back"

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisCacheBackend:
    """Entries, counters and leases in Redis (see the module)."""

    def __init__(
        self, redis: Redis, *, prefix: str = DEFAULT_PREFIX, retry_seconds: float = 2.0
    ) -> None:
        """Use an existing ``redis.asyncio.Redis`` client (``decode_responses=False``).

        Args:
            redis: The client; it stays owned by the caller unless made by :meth:`from_url`.
            prefix: Prepended to every key (the keys it is given carry it already).
            retry_seconds: While Redis is down, how long to wait before trying it again.

        Raises:
            TypeError: ``redis`` is not a ``redis.asyncio`` client.
        """
        require_async_redis(redis, parameter="redis", owner="RedisCacheBackend")
        self.redis = redis
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self._extend = redis.register_script(_EXTEND)
        self._release = redis.register_script(_RELEASE)
        self._owns_client = False
        self._down_until: float | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timeout: float = 1.0,
        max_connections: int = 50,
    ) -> RedisCacheBackend:
        """Connect to Redis at ``url``; close the backend with :meth:`aclose`.

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            prefix: Prepended to every key.
            timeout: Seconds to wait for a connection or a reply before bypassing the
                cache; short, since the request waits on it.
            max_connections: Connections opened at most (a burst waits for one).

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        client = blocking_redis_client(
            url,
            needed_by="RedisCacheBackend",
            timeout=timeout,
            max_connections=max_connections,
            who="cache",
            consequence=_CONSEQUENCE,
        )
        backend = cls(client, prefix=prefix)
        backend._owns_client = True
        return backend

    @property
    def available(self) -> bool:
        """Whether the last call reached Redis."""
        return self._down_until is None

    async def _call(self, operation: str, awaitable: Any) -> Any:
        from redis.exceptions import RedisError

        if self._down_until is not None and time.monotonic() < self._down_until:
            awaitable.close()
            raise CacheUnavailableError("the cache's Redis is unreachable (retrying soon)")
        try:
            result = await awaitable
        except (RedisError, OSError) as error:
            outage = self._outage()
            if outage is not None:
                outage.failed(error)
            elif self._down_until is None:
                logger.warning(
                    "cache: Redis unreachable (%s during %s: %s); %s",
                    type(error).__name__,
                    operation,
                    error,
                    _CONSEQUENCE,
                )
            self._down_until = time.monotonic() + self.retry_seconds
            raise CacheUnavailableError(f"the cache's Redis is unreachable: {error}") from error
        if self._down_until is not None:
            self._down_until = None
            outage = self._outage()
            if outage is not None:
                outage.succeeded()
            else:
                logger.warning("cache: Redis answers again; caching resumes")
        return result

    def _outage(self) -> Any:
        from tempest.utils.redis_pool import redis_outage_log

        return redis_outage_log(self.redis)

    async def read(self, key: str, counters: Sequence[str]) -> tuple[Entry | None, tuple[int, ...]]:
        """See :meth:`CacheBackend.read`: one ``MGET``."""
        values = await self._call("read", self.redis.mget([key, *counters]))
        raw = values[0]
        versions = tuple(int(value) if value is not None else 0 for value in values[1:])
        if raw is None:
            return None, versions
        entry = decode_entry(raw if isinstance(raw, bytes) else str(raw).encode())
        if entry is None:
            logger.warning("cache: ignoring %s, which is not an entry tempest wrote", key)
        return entry, versions

    async def write(self, key: str, entry: Entry, ttl: float | None) -> None:
        """See :meth:`CacheBackend.write`."""
        milliseconds = None if ttl is None else max(1, round(ttl * 1000))
        await self._call("write", self.redis.set(key, encode_entry(entry), px=milliseconds))

    async def acquire(self, lock: str, token: str, lease: float) -> bool:
        """See :meth:`CacheBackend.acquire`: ``SET NX PX``."""
        milliseconds = max(1, round(lease * 1000))
        return bool(await self._call("lock", self.redis.set(lock, token, nx=True, px=milliseconds)))

    async def extend(self, lock: str, token: str, lease: float) -> bool:
        """See :meth:`CacheBackend.extend`."""
        milliseconds = max(1, round(lease * 1000))
        return bool(await self._call("lock", self._extend(keys=[lock], args=[token, milliseconds])))

    async def release(self, lock: str, token: str) -> None:
        """See :meth:`CacheBackend.release`."""
        await self._call("unlock", self._release(keys=[lock], args=[token]))

    async def bump(self, counters: Sequence[str]) -> None:
        """See :meth:`CacheBackend.bump`: one ``INCR`` per counter, in one round trip."""
        if not counters:
            return
        pipeline = self.redis.pipeline(transaction=False)
        for counter in counters:
            pipeline.incr(counter)
        await self._call("invalidate", pipeline.execute())

    async def delete(self, keys: Sequence[str]) -> None:
        """See :meth:`CacheBackend.delete`."""
        if keys:
            await self._call("delete", self.redis.delete(*keys))

    async def health_check(self) -> bool:
        """``PING`` (tried even while the backend waits to retry Redis)."""
        from redis.exceptions import RedisError

        try:
            return bool(await self.redis.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it; a client passed in stays open."""
        if self._owns_client:
            self._owns_client = False
            await self.redis.aclose(close_connection_pool=True)
