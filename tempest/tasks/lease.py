"""The scheduler's lease: one ``manage.py scheduler`` kicks periodic tasks, the others wait.

A scheduler runs its loop only while it holds the lease. Others wait as standbys and
take the lease over when the holder dies. Backends:

- Redis: ``SET key token NX PX ttl``, renewed every third of the TTL by a Lua
  compare-and-extend on the token. A holder that cannot renew before the TTL runs out
  stops scheduling (fail safe: a late holder never ticks beside a new one).
- PostgreSQL: ``pg_try_advisory_lock`` on a dedicated connection held for the
  scheduler's life; the server drops the lock when the connection (the process) dies.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from typing import Any, Protocol

logger = logging.getLogger("tempest.tasks.lease")

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class SchedulerLease(Protocol):
    """A lease only one scheduler holds at a time."""

    description: str

    async def acquire(self) -> None:
        """Wait until this process holds the lease; backend errors are retried."""

    async def watch(self) -> None:
        """Keep the lease; return when it is lost (or can no longer be confirmed)."""

    async def release(self) -> None:
        """Give the lease up, if held; never raises."""


def lease_name(queue_name: str | None) -> str:
    """The lease key for the scheduler of one task queue (TaskIQ's default: ``taskiq``)."""
    return f"tempest:scheduler:{queue_name or 'taskiq'}"


class RedisLease:
    """A lease in Redis: a key holding a random token, with a TTL renewed by its holder.

    Args:
        url: The ``redis://`` URL.
        name: The key.
        ttl: Seconds the lease outlives a holder that stops renewing it.

    Attributes:
        description: What the lease is, for logs (no password).
    """

    def __init__(self, url: str, name: str, ttl: float) -> None:
        from tempest.conf.masking import mask_url
        from tempest.utils.redis_pool import blocking_redis_client

        self.name = name
        self.ttl = ttl
        self.token = uuid.uuid4().hex
        self.description = f"Redis key {name!r} on {mask_url(url)}"
        # One try per call, bounded by a third of the TTL: redis-py's own retries (with
        # back-off) could outlast the lease while renewing it.
        self._redis: Any = blocking_redis_client(
            url,
            needed_by="RedisLease",
            who="scheduler lease",
            timeout=max(ttl / 3, 0.5),
            max_connections=2,
            consequence="periodic tasks are not kicked by this scheduler until it is back",
        )
        self._held_until = 0.0

    async def _try(self) -> bool:
        started = time.monotonic()
        taken = await self._redis.set(self.name, self.token, nx=True, px=int(self.ttl * 1000))
        if taken:
            self._held_until = started + self.ttl
        return bool(taken)

    async def acquire(self) -> None:
        """Wait until ``SET NX`` succeeds; retry every third of the TTL."""
        while True:
            try:
                if await self._try():
                    return
            except Exception as error:  # unreachable Redis: wait and retry
                logger.warning("Scheduler lease: %s unreachable (%s); retrying.", self, error)
            await asyncio.sleep(self.ttl / 3)

    async def watch(self) -> None:
        """Renew every third of the TTL; return once renewing fails past the lease's end."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            started = time.monotonic()
            try:
                renewed = await self._redis.eval(
                    _RENEW, 1, self.name, self.token, int(self.ttl * 1000)
                )
            except Exception as error:
                # Still ours until _held_until: keep trying, but stop before it ends.
                logger.warning("Scheduler lease: cannot renew %s (%s).", self, error)
                if time.monotonic() + self.ttl / 3 >= self._held_until:
                    return
                continue
            if not renewed:
                logger.warning("Scheduler lease: %s is held by another scheduler.", self)
                return
            self._held_until = started + self.ttl

    async def release(self) -> None:
        """Delete the key if it still holds this scheduler's token, and disconnect."""
        try:
            await self._redis.eval(_RELEASE, 1, self.name, self.token)
        except Exception:  # the TTL frees it anyway
            logger.debug("Scheduler lease: could not release %s.", self, exc_info=True)
        try:
            await self._redis.aclose()
        except Exception:
            logger.debug("Scheduler lease: could not disconnect.", exc_info=True)

    def __str__(self) -> str:
        return self.description


class PostgresLease:
    """A lease as a PostgreSQL session advisory lock on a connection of its own.

    Args:
        dsn: A plain ``postgresql://`` DSN (asyncpg's form).
        name: Hashed into the advisory lock's 64-bit key.
        ttl: How often (seconds) standbys retry and the holder checks its connection.

    Attributes:
        description: What the lease is, for logs.
    """

    def __init__(self, dsn: str, name: str, ttl: float) -> None:
        self.dsn = dsn
        self.ttl = ttl
        digest = hashlib.sha256(name.encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.description = f"PostgreSQL advisory lock {self.key} ({name!r})"
        self._connection: Any = None

    async def acquire(self) -> None:
        """Wait until ``pg_try_advisory_lock`` succeeds on this process's connection."""
        import asyncpg  # type: ignore[import-untyped]

        while True:
            try:
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self.dsn, timeout=self.ttl)
                if await self._connection.fetchval(
                    "SELECT pg_try_advisory_lock($1)", self.key, timeout=self.ttl
                ):
                    return
            except Exception as error:
                logger.warning("Scheduler lease: %s unavailable (%s); retrying.", self, error)
                await self._close()
            await asyncio.sleep(self.ttl / 3)

    async def watch(self) -> None:
        """Check the connection every third of the TTL; return when it is gone."""
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                await self._connection.fetchval("SELECT 1", timeout=self.ttl / 3)
            except Exception as error:
                logger.warning("Scheduler lease: lost the connection of %s (%s).", self, error)
                await self._close()
                return

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def release(self) -> None:
        """Close the connection: the server drops the lock with it."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), self.ttl / 3)
            except Exception:
                connection.terminate()

    def __str__(self) -> str:
        return self.description


def scheduler_lease() -> SchedulerLease | None:
    """The lease the project's scheduler takes, from settings; None when there is none.

    ``SCHEDULER_LOCK_URL`` when set (``redis://`` or ``postgresql://``), else
    ``TASKIQ_BROKER_URL`` when it is ``redis://``, else ``REDIS_URL`` (the project's
    shared state) when set, else ``DATABASE_URL`` when it is PostgreSQL. None (SQLite and
    RabbitMQ without REDIS_URL): run one scheduler only.

    Raises:
        ImproperlyConfigured: ``SCHEDULER_LOCK_URL`` is neither Redis nor PostgreSQL.
    """
    from sqlalchemy.engine import make_url

    from tempest.conf import settings
    from tempest.conf.masking import mask_url
    from tempest.exceptions.framework import ImproperlyConfigured
    from tempest.tasks.brokers import broker_scheme
    from tempest.tasks.project import task_settings

    broker_url, _, queue = task_settings()
    name = lease_name(queue)
    ttl = float(getattr(settings, "SCHEDULER_LEASE_SECONDS", 10.0))
    configured = getattr(settings, "SCHEDULER_LOCK_URL", None)
    candidates = [str(configured)] if configured else [broker_url]
    if not configured:
        candidates.append(str(getattr(settings, "REDIS_URL", None) or ""))
        candidates.append(str(getattr(settings, "DATABASE_URL", "") or ""))
    for url in candidates:
        scheme = broker_scheme(url)
        if scheme in ("redis", "rediss"):
            return RedisLease(url, name, ttl)
        if scheme.split("+")[0] in ("postgresql", "postgres"):
            plain = make_url(url).set(drivername="postgresql")
            return PostgresLease(plain.render_as_string(hide_password=False), name, ttl)
    if configured:
        raise ImproperlyConfigured(
            f"SCHEDULER_LOCK_URL {mask_url(str(configured))!r} is neither a redis:// nor "
            "a postgresql:// URL; set it to one of them, or unset it."
        )
    return None
