"""Flags in Redis, shared by every process: :class:`RedisFeatureFlagBackend`.

The flags are one hash (``<key>``: flag name -> ``{"enabled": ..., "percentage": ...}``
as JSON). A write sets the field and publishes the flag's name on ``<key>:changed`` in one
transaction; every process subscribed there reloads the hash (one ``HGETALL``) and
evaluates from that copy until the next change. Nothing read from Redis is unpickled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from tempest.flags.backends import ChangeCallback, FeatureFlagBackend
from tempest.flags.state import FlagState, InvalidFlagError, check_flag_name, coerce_flag
from tempest.utils.outages import OutageLog
from tempest.utils.redis_pool import is_redis_outage, redis_outage_log

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_KEY", "RedisFeatureFlagBackend"]

logger = logging.getLogger("tempest.flags")

_T = TypeVar("_T")

WHO = "feature flags"
CONSEQUENCE = "serving the last known flags until it is back"

DEFAULT_KEY = "tempest:flags"
"""The hash holding the flags; changes are published on ``<key>:changed``."""


class RedisFeatureFlagBackend(FeatureFlagBackend):
    """Flags in a Redis hash, with change notices over pub/sub.

    :meth:`watch` keeps one subscription (a connection of its own). When the connection
    breaks, it tries again every ``retry_seconds``, and once subscribed again asks for a
    reload, since changes published meanwhile were missed. An outage is logged once
    when it starts and once when Redis answers again (``tempest.outages``).
    """

    label = "redis"
    read_only = False
    logs_outages = True

    def __init__(
        self,
        redis: Redis,
        *,
        key: str = DEFAULT_KEY,
        retry_seconds: float = 1.0,
        idle_ping_seconds: float = 10.0,
        owns_client: bool = False,
    ) -> None:
        """Use ``redis`` (a ``redis.asyncio.Redis``; yours to close unless ``owns_client``).

        Args:
            redis: The client; the subscription takes one connection of its pool.
            key: The hash; its changes are published on ``<key>:changed``.
            retry_seconds: Pause between attempts to subscribe again after a failure.
            idle_ping_seconds: After this long without a notice, the subscription's
                connection is checked with a PING.
            owns_client: Close the client (and its pool) in :meth:`aclose`.
        """
        self.redis = redis
        self.key = key
        self.channel = f"{key}:changed"
        self.retry_seconds = retry_seconds
        self.idle_ping_seconds = idle_ping_seconds
        self._owns_client = owns_client
        self._reported: set[str] = set()
        self.outage = redis_outage_log(redis) or OutageLog(
            WHO, "Redis", "", consequence=CONSEQUENCE
        )

    @classmethod
    def from_url(
        cls, url: str, *, key: str = DEFAULT_KEY, timeout: float = 1.0, max_connections: int = 4
    ) -> RedisFeatureFlagBackend:
        """A backend owning a client on ``url`` (closed by :meth:`aclose`).

        Args:
            url: ``redis://host:port/db``.
            key: The hash of the flags.
            timeout: Seconds a connection, a free pooled connection or a reply may take.
            max_connections: Pool size (the subscription holds one connection).

        Raises:
            ImportError: The ``redis`` package is not installed.
        """
        from tempest.utils.redis_pool import blocking_redis_client

        client = blocking_redis_client(
            url,
            needed_by="RedisFeatureFlagBackend",
            timeout=timeout,
            max_connections=max_connections,
            who=WHO,
            consequence=CONSEQUENCE,
        )
        return cls(client, key=key, owns_client=True)

    async def load(self) -> dict[str, FlagState]:
        """The flags in the hash (one ``HGETALL``); unreadable fields are skipped, logged."""
        raw: dict[Any, Any] = await self._call(self.redis.hgetall(self.key))
        found: dict[str, FlagState] = {}
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            try:
                found[check_flag_name(name)] = coerce_flag(json.loads(value))
            except (InvalidFlagError, ValueError, TypeError) as exc:
                if name not in self._reported:
                    self._reported.add(name)
                    logger.warning(
                        "Feature flags: field %r of Redis hash %s skipped: %s", name, self.key, exc
                    )
        return found

    async def set(self, name: str, state: FlagState) -> None:
        """Store ``state`` for ``name`` and publish the change, in one transaction."""
        check_flag_name(name)
        value = json.dumps(coerce_flag(state).to_dict(), separators=(",", ":"))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.key, name, value)
            pipe.publish(self.channel, name)
            await self._call(pipe.execute())

    async def delete(self, name: str) -> None:
        """Remove ``name`` from the hash and publish the change."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key, name)
            pipe.publish(self.channel, name)
            await self._call(pipe.execute())

    async def watch(self, on_change: ChangeCallback) -> None:
        """Subscribe to ``<key>:changed`` and call ``on_change`` per notice, until cancelled.

        Also calls it after every (re)subscription. Never raises for Redis failures: it
        retries every ``retry_seconds``.
        """
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.outage.succeeded()
                on_change()  # whatever was published while we were not listening
                while True:
                    message = await pubsub.get_message(timeout=self.idle_ping_seconds)
                    if message is None:
                        # Quiet: a PING (its answer is skipped) finds a connection that
                        # died without closing, so that watching resumes.
                        await pubsub.ping()
                    elif message.get("type") == "message":
                        on_change()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise asyncio.CancelledError from exc  # reworded by the client
                if is_redis_outage(exc):
                    self.outage.failed(exc)
                else:  # a bug rather than an outage: say so each time, and go on watching
                    logger.warning("Feature flags: watching Redis failed", exc_info=True)
            finally:
                await _close_quietly(pubsub)
            await asyncio.sleep(self.retry_seconds)

    async def health_check(self) -> bool:
        """``PING``."""
        return bool(await self._call(self.redis.ping()))

    async def aclose(self) -> None:
        """Close the client when this backend made it."""
        if self._owns_client:
            await self.redis.aclose(close_connection_pool=True)

    async def _call(self, command: Awaitable[_T]) -> _T:
        """Await a command, telling the outage log whether Redis answered."""
        try:
            reply = await command
        except Exception as exc:
            if is_redis_outage(exc):
                self.outage.failed(exc)
            raise
        self.outage.succeeded()
        return reply


async def _close_quietly(pubsub: Any) -> None:
    # The connection may be broken already: there is nothing more to release then.
    with contextlib.suppress(Exception):
        await pubsub.aclose()
