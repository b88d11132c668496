"""AsyncRedisManager: a ``redis.asyncio`` client with a connect/disconnect/health surface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from tempest.cache.keys import DEFAULT_PREFIX

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from tempest.cache.redis_backend import RedisCacheBackend

__all__ = ["AsyncRedisManager"]


class AsyncRedisManager:
    """Wrap a ``redis.asyncio.Redis`` client, as ``AsyncDatabaseManager`` wraps an engine.

    Connect it in the app's lifespan, use :attr:`client` (or the
    :meth:`client_dependency` in routes), disconnect it at shutdown. Pass it to
    ``@cached(manager, ...)`` to cache in that Redis: the cache opens its own small pool
    on the same URL (values are stored as bytes, whatever ``decode_responses`` says, and
    with a short timeout so that a Redis outage bypasses the cache instead of stalling
    requests).
    """

    def __init__(
        self,
        url: str,
        *,
        decode_responses: bool = True,
        key_prefix: str = DEFAULT_PREFIX,
        **client_kwargs: Any,
    ) -> None:
        """Remember how to connect; nothing is opened before :meth:`connect`.

        Args:
            url: A Redis URL, e.g. ``redis://localhost:6379/0``.
            decode_responses: Whether :attr:`client` answers ``str`` instead of ``bytes``.
            key_prefix: The prefix of the keys ``@cached`` writes through this manager.
            **client_kwargs: Further options of ``redis.asyncio.Redis.from_url``.
        """
        self.url = url
        self.decode_responses = decode_responses
        self.key_prefix = key_prefix
        self.client_kwargs = client_kwargs
        self._client: Redis | None = None
        self._backend: RedisCacheBackend | None = None

    def __repr__(self) -> str:
        """The URL with its password masked."""
        from tempest.conf.masking import mask_url

        return f"AsyncRedisManager({mask_url(self.url)!r})"

    async def connect(self) -> None:
        """Build the client (connections open on first use); a second call is a no-op.

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        if self._client is not None:
            return
        try:
            from redis.asyncio import Redis
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                'AsyncRedisManager needs the redis package: pip install "tempest-framework[cache]"'
            ) from exc
        self._client = Redis.from_url(
            self.url, decode_responses=self.decode_responses, **self.client_kwargs
        )

    async def disconnect(self) -> None:
        """Close the client, the cache's pool and their connections; safe to call twice."""
        client, self._client = self._client, None
        backend, self._backend = self._backend, None
        if client is not None:
            await client.aclose(close_connection_pool=True)
        if backend is not None:
            await backend.aclose()

    @property
    def client(self) -> Redis:
        """The live client.

        Raises:
            RuntimeError: :meth:`connect` has not been called.
        """
        if self._client is None:
            raise RuntimeError(
                "AsyncRedisManager is not connected: await manager.connect() first "
                "(in the app's lifespan)"
            )
        return self._client

    @property
    def cache_backend(self) -> RedisCacheBackend:
        """The backend ``@cached(manager)`` stores through (built on first use)."""
        if self._backend is None:
            from tempest.cache.redis_backend import RedisCacheBackend

            self._backend = RedisCacheBackend.from_url(self.url, prefix=self.key_prefix)
        return self._backend

    @asynccontextmanager
    async def get_client_context(self) -> AsyncIterator[Redis]:
        """Yield :attr:`client` inside ``async with`` (the client stays open after)."""
        yield self.client

    async def client_dependency(self) -> AsyncIterator[Redis]:
        """A FastAPI dependency yielding :attr:`client`: ``Depends(manager.client_dependency)``."""
        yield self.client

    async def health_check(self) -> bool:
        """``PING``; False when Redis does not answer or the manager is not connected."""
        from redis.exceptions import RedisError

        if self._client is None:
            return False
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False
