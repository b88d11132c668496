"""Single flight: of many concurrent misses of one key, one call loads, the others wait.

Within a process, concurrent callers of one key share one future. Across processes the
loader takes a lease in the backend (``SET NX PX``, a few seconds, renewed while the
load runs); the others poll for the value with a short back-off and take the lease
themselves if it is given back or expires without a value (the loader died). Before
loading, the lease holder reads once more, since the previous holder may have just
written the value.

An entry is valid only if the namespace and tag counters it records are the current
ones, read in the same round trip as the entry. The loader keeps the counters it read
*before* it ran: an invalidation during the load makes the stored entry stale at once.

With ``stale_ttl``, an entry past its ``ttl`` but within ``ttl + stale_ttl`` is still
served (stale while revalidate): the one caller that takes the lease reloads it, in its
own call (so that what it uses, a request's database session, is still open), and every
other caller, in every process, gets the stale value at once meanwhile.

A backend that cannot be reached (:class:`CacheUnavailableError`) bypasses the cache:
the function runs and its value is returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from tempest.cache.backends import CacheBackend, CacheUnavailableError, MemoryCacheBackend
from tempest.cache.entries import Entry, etag_of
from tempest.cache.keys import lock_key

__all__ = ["Flight", "Loader"]

Loader = Callable[[], Awaitable[tuple[Any, bytes]]]
"""Runs the cached code: returns the value and its serialized payload."""

lookup_observer: Callable[[str], None] | None = None
"""Told ``"hit"``, ``"stale"`` or ``"miss"`` at each lookup (set by Prometheus metrics)."""


class Flight:
    """Loads the entries of one cached function or route through a backend."""

    def __init__(
        self,
        *,
        ttl: float,
        stale_ttl: float = 0.0,
        lease: float = 3.0,
        wait: float = 30.0,
    ) -> None:
        """Configure the loading of entries.

        Args:
            ttl: Seconds an entry is fresh; 0: no expiry.
            stale_ttl: Seconds after ``ttl`` an entry is still served while it reloads.
            lease: Seconds the loader's lease lasts (renewed every third of it).
            wait: Seconds a caller waits for another process's load before loading itself.

        Raises:
            ValueError: A negative duration, or a lease that is not positive.
        """
        if ttl < 0 or stale_ttl < 0 or wait < 0:
            raise ValueError(
                f"ttl, stale_ttl and lock_wait must not be negative: {ttl}, {stale_ttl}, {wait}"
            )
        if lease <= 0:
            raise ValueError(f"lock_timeout must be positive, got {lease!r}")
        self.ttl = ttl
        self.stale_ttl = stale_ttl if ttl else 0.0
        self.lease = lease
        self.wait = wait
        self.store_ttl: float | None = ttl + self.stale_ttl if ttl else None
        self._inflight: dict[str, asyncio.Future[Entry]] = {}
        self._refreshing: set[str] = set()  # stale keys this process is reloading

    async def get(
        self, backend: CacheBackend, key: str, counters: Sequence[str], load: Loader
    ) -> Entry:
        """The valid entry at ``key``, loaded once if missing.

        The returned entry carries ``value`` when this call (or a call it waited for in
        this process) ran the loader; otherwise only the payload.
        """
        try:
            if type(backend) is MemoryCacheBackend:
                entry, versions = backend.read_now(key, counters)
            else:
                entry, versions = await backend.read(key, counters)
        except CacheUnavailableError:
            return await self._bypass(load)
        if entry is not None and entry.versions == versions:
            if entry.is_fresh() or key in self._refreshing:
                if lookup_observer is not None:
                    lookup_observer("hit")
                return entry
            if lookup_observer is not None:
                lookup_observer("stale")
            return await self._refresh(backend, key, counters, load, entry)
        if lookup_observer is not None:
            lookup_observer("miss")
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller is cancelled
                return await self.get(backend, key, counters, load)  # the leader was
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._load_shared(backend, key, counters, load)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no warning when nobody else waited
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    async def _load_shared(
        self, backend: CacheBackend, key: str, counters: Sequence[str], load: Loader
    ) -> Entry:
        token = os.urandom(12).hex()
        lock = lock_key(key, backend.prefix)
        deadline = time.monotonic() + self.wait
        delay = 0.005
        loaded: list[Entry] = []  # the loader's value, if it ran before Redis failed
        try:
            while True:
                if await backend.acquire(lock, token, self.lease):
                    try:
                        entry, versions = await backend.read(key, counters)
                        if entry is not None and entry.versions == versions:
                            return entry  # the previous holder has just stored it
                        return await self._load_and_store(
                            backend, key, versions, load, loaded, (lock, token)
                        )
                    finally:
                        with contextlib.suppress(CacheUnavailableError):
                            await backend.release(lock, token)
                if time.monotonic() >= deadline:
                    # The holder is alive (it renews its lease) but slower than we wait.
                    _entry, versions = await backend.read(key, counters)
                    return await self._load_and_store(backend, key, versions, load, loaded)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
                entry, versions = await backend.read(key, counters)
                if entry is not None and entry.versions == versions:
                    return entry
        except CacheUnavailableError:
            return loaded[0] if loaded else await self._bypass(load)

    async def _load_and_store(
        self,
        backend: CacheBackend,
        key: str,
        versions: tuple[int, ...],
        load: Loader,
        loaded: list[Entry],
        lease: tuple[str, str] | None = None,
    ) -> Entry:
        renewal = (
            asyncio.create_task(self._renew(backend, *lease))
            if lease is not None and not isinstance(backend, MemoryCacheBackend)
            else None
        )
        try:
            value, payload = await load()
        finally:
            if renewal is not None:
                renewal.cancel()
        fresh_until = time.time() + self.ttl if self.stale_ttl else None
        stored = Entry(payload, etag_of(payload), versions, fresh_until)
        result = dataclasses.replace(stored, value=value)
        loaded.append(result)
        await backend.write(key, stored, self.store_ttl)
        return result

    async def _renew(self, backend: CacheBackend, lock: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                if not await backend.extend(lock, token, self.lease):
                    return
            except CacheUnavailableError:
                return

    async def _bypass(self, load: Loader) -> Entry:
        value, payload = await load()
        return Entry(payload, etag_of(payload), (), None, value)

    async def _refresh(
        self, backend: CacheBackend, key: str, counters: Sequence[str], load: Loader, stale: Entry
    ) -> Entry:
        """Reload a stale entry if this caller wins the lease; else serve it as it is."""
        self._refreshing.add(key)
        token = os.urandom(12).hex()
        lock = lock_key(key, backend.prefix)
        try:
            if not await backend.acquire(lock, token, self.lease):
                return stale  # another process is reloading it
            try:
                entry, versions = await backend.read(key, counters)
                if entry is not None and entry.versions == versions and entry.is_fresh():
                    return entry
                return await self._load_and_store(backend, key, versions, load, [], (lock, token))
            finally:
                with contextlib.suppress(CacheUnavailableError):
                    await backend.release(lock, token)
        except CacheUnavailableError:
            return stale
        finally:
            self._refreshing.discard(key)
