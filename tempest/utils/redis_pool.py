"""The Redis client tempest's own stores open from a URL (throttles, rate limits, keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["blocking_redis_client"]


def blocking_redis_client(
    url: str,
    *,
    needed_by: str,
    timeout: float | None,
    max_connections: int,
    **pool_options: Any,
) -> Redis:
    """A ``redis.asyncio`` client on a blocking connection pool.

    A burst of more concurrent calls than ``max_connections`` waits for a free
    connection (up to ``timeout``) instead of failing, as redis-py's default pool does
    past its size.

    Args:
        url: A Redis URL, e.g. ``redis://localhost:6379/0``.
        needed_by: The class that asks, named in the error when redis is missing.
        timeout: Seconds to wait for a connection, a free one in the pool or a reply;
            None waits forever.
        max_connections: Connections the pool opens at most.
        **pool_options: Further options of ``BlockingConnectionPool.from_url``.

    Returns:
        The client; its owner closes it with ``aclose(close_connection_pool=True)``.

    Raises:
        ImportError: The ``redis`` package is not installed.
    """
    try:
        from redis.asyncio import BlockingConnectionPool, Redis
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            f'{needed_by} needs the redis package: pip install "tempest-framework[cache]"'
        ) from exc
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        **pool_options,
    )
    return Redis(connection_pool=pool)
