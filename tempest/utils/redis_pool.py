"""The Redis client tempest's own stores open from a URL (throttles, rate limits, keys).

Every such client answers within its ``timeout`` when Redis is down (no retries, no
back-off inside redis-py: each store decides what an outage means), and says so in the
log once per outage, and once when Redis answers again, with the URL masked
(:class:`~tempest.utils.outages.OutageLog`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tempest.utils.outages import OutageLog

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "DEFAULT_TIMEOUT",
    "blocking_redis_client",
    "is_redis_outage",
    "redis_outage_log",
    "require_async_redis",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds a store waits for a connection (a free one in the pool, or a new one) and for a
reply before it treats Redis as unreachable: the bound of a request's wait in an outage."""

_watched_class: type[Redis] | None = None


def require_async_redis(client: object, *, parameter: str, owner: str) -> None:
    """Refuse anything but a ``redis.asyncio`` client, naming the way that works.

    Args:
        client: What the caller passed.
        parameter: The parameter's name, for the message (``client``, ``redis``).
        owner: The class that takes it (``RedisRateLimitStore``), whose ``from_url`` the
            message suggests.

    Raises:
        TypeError: ``client`` cannot run Lua scripts the ``redis.asyncio`` way.
    """
    if not callable(getattr(client, "register_script", None)):
        raise TypeError(
            f"{parameter} must be a redis.asyncio.Redis client, got {type(client).__name__}; "
            f"or use {owner}.from_url(url)"
        )


def is_redis_outage(error: BaseException) -> bool:
    """Whether ``error`` means Redis could not be reached (not a bad command or reply).

    Args:
        error: What a Redis call raised.
    """
    from redis.exceptions import (
        ConnectionError as RedisConnectionError,
        TimeoutError as RedisTimeoutError,
    )

    return isinstance(error, RedisConnectionError | RedisTimeoutError | OSError | TimeoutError)


def redis_outage_log(client: object) -> OutageLog | None:
    """The :class:`OutageLog` of a client made by :func:`blocking_redis_client`, else None."""
    outage = getattr(client, "outage", None)
    return outage if isinstance(outage, OutageLog) else None


def _watched() -> type[Redis]:
    """``redis.asyncio.Redis`` whose commands report to the client's :class:`OutageLog`."""
    global _watched_class
    if _watched_class is None:
        from redis.asyncio import Redis

        class WatchedRedis(Redis):
            """A Redis client that logs once when Redis goes away and once when it is back."""

            outage: OutageLog

            async def execute_command(self, *args: Any, **options: Any) -> Any:
                try:
                    reply = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
                except BaseException as error:
                    if is_redis_outage(error):
                        self.outage.failed(error)
                    raise
                self.outage.succeeded()
                return reply

        _watched_class = WatchedRedis
    return _watched_class


def blocking_redis_client(
    url: str,
    *,
    needed_by: str,
    timeout: float | None,
    max_connections: int,
    who: str | None = None,
    consequence: str = "",
    logger: logging.Logger | None = None,
    **pool_options: Any,
) -> Redis:
    """A ``redis.asyncio`` client on a blocking connection pool.

    A burst of more concurrent calls than ``max_connections`` waits for a free
    connection (up to ``timeout``) instead of failing, as redis-py's default pool does
    past its size. A failed call is not retried: it raises within ``timeout``
    (``redis.exceptions.ConnectionError`` or ``TimeoutError``), and the first failure of
    an outage, then the first success after it, are logged (``tempest.outages``).

    Args:
        url: A Redis URL, e.g. ``redis://localhost:6379/0``.
        needed_by: The class that asks, named in the error when redis is missing.
        who: What the store is for humans, first on each outage line (``"rate limit"``);
            ``needed_by`` when None.
        timeout: Seconds to wait for a connection, a free one in the pool or a reply;
            None waits forever.
        max_connections: Connections the pool opens at most.
        consequence: What the store does while Redis is down, for the outage line
            (``"sign-in answers 503 until it is back"``).
        logger: Where the outage lines go; ``tempest.outages`` when None.
        **pool_options: Further options of ``BlockingConnectionPool.from_url``.

    Returns:
        The client (its ``outage`` attribute is its :class:`OutageLog`); its owner closes
        it with ``aclose(close_connection_pool=True)``.

    Raises:
        ImportError: The ``redis`` package is not installed.
    """
    try:
        from redis.asyncio import BlockingConnectionPool
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            f'{needed_by} needs the redis package: pip install "tempest-framework[cache]"'
        ) from exc
    pool_options.setdefault("retry", None)  # an outage is the store's to handle, at once
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        **pool_options,
    )
    client = _watched()(connection_pool=pool)
    client.outage = OutageLog(  # type: ignore[attr-defined]
        who or needed_by, "Redis", url, consequence=consequence, logger=logger
    )
    return client
