"""Where verifiers remember the webhook ids they accepted, to refuse a second delivery.

:meth:`ReplayStore.first_seen` records an id for a while and says whether it was new,
atomically: of N concurrent deliveries of one id, exactly one is told "new".
:class:`MemoryReplayStore` remembers in the process (one worker); :class:`RedisReplayStore`
in Redis (``SET NX EX``), shared by every process and host. :func:`get_replay_store` builds
the project's store from ``WEBHOOK_REPLAY_URL`` (unset: ``REDIS_URL``, else memory).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from weakref import WeakKeyDictionary

from tempest.utils.redis_pool import DEFAULT_TIMEOUT, require_async_redis

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "get_replay_store",
    "replay_store_from_url",
]


@runtime_checkable
class ReplayStore(Protocol):
    """The memory of accepted webhook ids."""

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        """Record ``key`` for ``ttl_seconds``; whether it was not already recorded.

        Atomic: when several callers race on one key, exactly one gets True.
        """
        ...

    async def forget(self, key: str) -> None:
        """Drop ``key`` (its handler failed: a retry of the delivery must pass)."""
        ...

    async def aclose(self) -> None:
        """Release the store's resources."""
        ...


class MemoryReplayStore:
    """Ids in this process's memory: right for one worker, tests and ``runserver``.

    Expired ids are dropped every ``sweep_every`` new ids, so memory stays bounded by the
    ids received within the tolerance window.
    """

    def __init__(self, *, sweep_every: int = 1024) -> None:
        """Create an empty store.

        Args:
            sweep_every: Drop every expired id after this many new ones.
        """
        if sweep_every < 1:
            raise ValueError("sweep_every must be at least 1")
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()  # one store may serve the loops of several threads
        self._sweep_every = sweep_every
        self._added = 0

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        """Record ``key``; whether it was new (see :class:`ReplayStore`)."""
        now = time.monotonic()
        with self._lock:
            until = self._until.get(key)
            if until is not None and until > now:
                return False
            self._until[key] = now + ttl_seconds
            self._added += 1
            if self._added >= self._sweep_every:
                self._added = 0
                for stale in [k for k, u in self._until.items() if u <= now]:
                    del self._until[stale]
            return True

    async def forget(self, key: str) -> None:
        """Drop ``key``."""
        with self._lock:
            self._until.pop(key, None)

    async def aclose(self) -> None:
        """Nothing to close."""


class RedisReplayStore:
    """Ids in Redis, shared by every process and host using the same server.

    ``SET key 1 NX EX ttl``: one round trip, atomic on the server, expiring on Redis's
    clock. Ids are stored hashed (SHA-256) under ``prefix``, whatever their length.
    """

    def __init__(self, client: Redis, *, prefix: str = "tempest:webhooks:seen:") -> None:
        """Use an existing ``redis.asyncio.Redis`` client; it stays the caller's.

        Raises:
            TypeError: ``client`` is not a ``redis.asyncio`` client.
        """
        require_async_redis(client, parameter="client", owner="RedisReplayStore")
        self.client = client
        self.prefix = prefix
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "tempest:webhooks:seen:",
        timeout: float | None = DEFAULT_TIMEOUT,
        max_connections: int = 20,
    ) -> RedisReplayStore:
        """Connect to Redis at ``url`` (a blocking pool); close with :meth:`aclose`.

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        client = blocking_redis_client(
            url,
            needed_by="RedisReplayStore",
            who="webhook replay protection",
            consequence="webhook deliveries answer 503 until it is back",
            timeout=timeout,
            max_connections=max_connections,
        )
        store = cls(client, prefix=prefix)
        store._owns_client = True
        return store

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    async def first_seen(self, key: str, ttl_seconds: float) -> bool:
        """Record ``key``; whether it was new (see :class:`ReplayStore`)."""
        done = await self.client.set(
            self._key(key), b"1", nx=True, ex=max(1, math.ceil(ttl_seconds))
        )
        return bool(done)

    async def forget(self, key: str) -> None:
        """Drop ``key``."""
        await self.client.delete(self._key(key))

    async def aclose(self) -> None:
        """Close the client if :meth:`from_url` created it."""
        if self._owns_client:
            await self.client.aclose(close_connection_pool=True)


def replay_store_from_url(url: str) -> ReplayStore:
    """A store for ``url``: ``memory://`` (or empty) or a ``redis://`` URL.

    Raises:
        ImproperlyConfigured: Another scheme.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not url or scheme == "memory":
        return MemoryReplayStore()
    if scheme in ("redis", "rediss", "unix"):
        return RedisReplayStore.from_url(url)
    from tempest.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"WEBHOOK_REPLAY_URL must be 'memory://' or a redis:// URL, got {scheme or url!r}; "
        "fix it in the settings or the environment."
    )


_memory = MemoryReplayStore()
_redis_stores: dict[str, WeakKeyDictionary[asyncio.AbstractEventLoop, ReplayStore]] = {}
_stores_lock = threading.Lock()


def get_replay_store(settings: Any = None) -> ReplayStore:
    """The project's replay store, from ``WEBHOOK_REPLAY_URL`` (unset: ``REDIS_URL``).

    Memory: one store for the process. Redis: one store per URL and event loop (a Redis
    connection belongs to the loop that opened it), built on first use. Outside a
    configured project: memory.

    Args:
        settings: The settings; default :data:`tempest.conf.settings`.

    Raises:
        ImproperlyConfigured: ``WEBHOOK_REPLAY_URL`` names an unknown backend.
    """
    from tempest.conf.shared_state import MEMORY_URL, shared_state_url
    from tempest.exceptions import ImproperlyConfigured

    try:
        if settings is None:
            from tempest.conf import settings as project_settings

            settings = project_settings
        url = shared_state_url(settings, getattr(settings, "WEBHOOK_REPLAY_URL", None))
    except ImproperlyConfigured:
        url = MEMORY_URL
    if url.split("://", 1)[0].lower() == "memory":
        return _memory
    loop = asyncio.get_running_loop()
    with _stores_lock:
        per_loop = _redis_stores.setdefault(url, WeakKeyDictionary())
        store = per_loop.get(loop)
        if store is None:
            store = per_loop[loop] = replay_store_from_url(url)
        return store
