"""Where cached values live: the :class:`CacheBackend` protocol and the in-process backend.

A backend stores entries with a time to live, keeps the version counters of namespaces
and tags, and hands out short leases (the single-flight lock). The Redis backend is in
:mod:`tempest.cache.redis_backend`.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from tempest.cache.entries import Entry
from tempest.cache.keys import DEFAULT_PREFIX

__all__ = ["CacheBackend", "CacheUnavailableError", "MemoryCacheBackend"]


class CacheUnavailableError(Exception):
    """The backend cannot be reached; the cache is bypassed (the function runs)."""


@runtime_checkable
class CacheBackend(Protocol):
    """The operations the cache needs from a store.

    Attributes:
        prefix: Prepended to every key the backend is given (keys arrive prefixed).
    """

    prefix: str

    async def read(self, key: str, counters: Sequence[str]) -> tuple[Entry | None, tuple[int, ...]]:
        """The entry at ``key`` (None if absent) and the values of ``counters``, at once.

        Raises:
            CacheUnavailableError: The store cannot be reached.
        """
        ...

    async def write(self, key: str, entry: Entry, ttl: float | None) -> None:
        """Store ``entry`` at ``key`` for ``ttl`` seconds (None: no expiry)."""
        ...

    async def acquire(self, lock: str, token: str, lease: float) -> bool:
        """Take the lease ``lock`` for ``lease`` seconds unless someone holds it."""
        ...

    async def extend(self, lock: str, token: str, lease: float) -> bool:
        """Renew a lease this ``token`` holds; False if it is lost."""
        ...

    async def release(self, lock: str, token: str) -> None:
        """Give back a lease this ``token`` holds (a lost one is left alone)."""
        ...

    async def bump(self, counters: Sequence[str]) -> None:
        """Increment version counters (invalidates what was loaded under them)."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove entries."""
        ...

    async def health_check(self) -> bool:
        """Whether the store answers."""
        ...

    async def aclose(self) -> None:
        """Release connections; a backend may be closed twice."""
        ...


class MemoryCacheBackend:
    """Entries in this process's memory: right for one process (tests, ``runserver``).

    At most ``max_entries`` entries; the least recently used go first, and expired ones
    are dropped when read. Counters and leases live here too, so the single flight and
    invalidation hold within the process.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty cache.

        Args:
            max_entries: Entries kept at most.
            prefix: Key prefix (the keys it is given carry it already).
            clock: Seconds, monotonic; tests pass a fake one.

        Raises:
            ValueError: ``max_entries`` is not positive.
        """
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, got {max_entries!r}")
        self.prefix = prefix
        self.max_entries = max_entries
        self._clock = clock
        self._entries: collections.OrderedDict[str, tuple[float | None, Entry]] = (
            collections.OrderedDict()
        )
        self._counters: dict[str, int] = {}
        self._locks: dict[str, tuple[str, float]] = {}

    def __len__(self) -> int:
        """Entries held now (expired ones not yet dropped included)."""
        return len(self._entries)

    def read_now(self, key: str, counters: Sequence[str]) -> tuple[Entry | None, tuple[int, ...]]:
        """The synchronous :meth:`read` (nothing here awaits)."""
        versions = tuple([self._counters.get(counter, 0) for counter in counters])
        found = self._entries.get(key)
        if found is None:
            return None, versions
        expires, entry = found
        if expires is not None and self._clock() >= expires:
            del self._entries[key]
            return None, versions
        self._entries.move_to_end(key)
        return entry, versions

    async def read(self, key: str, counters: Sequence[str]) -> tuple[Entry | None, tuple[int, ...]]:
        """See :meth:`CacheBackend.read`."""
        return self.read_now(key, counters)

    async def write(self, key: str, entry: Entry, ttl: float | None) -> None:
        """See :meth:`CacheBackend.write`."""
        expires = None if ttl is None else self._clock() + ttl
        self._entries[key] = (expires, entry)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def acquire(self, lock: str, token: str, lease: float) -> bool:
        """See :meth:`CacheBackend.acquire`."""
        now = self._clock()
        held = self._locks.get(lock)
        if held is not None and held[1] > now:
            return False
        self._locks[lock] = (token, now + lease)
        return True

    async def extend(self, lock: str, token: str, lease: float) -> bool:
        """See :meth:`CacheBackend.extend`."""
        held = self._locks.get(lock)
        if held is None or held[0] != token:
            return False
        self._locks[lock] = (token, self._clock() + lease)
        return True

    async def release(self, lock: str, token: str) -> None:
        """See :meth:`CacheBackend.release`."""
        held = self._locks.get(lock)
        if held is not None and held[0] == token:
            del self._locks[lock]

    async def bump(self, counters: Sequence[str]) -> None:
        """See :meth:`CacheBackend.bump`."""
        for counter in counters:
            self._counters[counter] = self._counters.get(counter, 0) + 1

    async def delete(self, keys: Sequence[str]) -> None:
        """See :meth:`CacheBackend.delete`."""
        for key in keys:
            self._entries.pop(key, None)

    async def health_check(self) -> bool:
        """Always True: memory is always there."""
        return True

    async def aclose(self) -> None:
        """Forget every entry, counter and lease."""
        self._entries.clear()
        self._counters.clear()
        self._locks.clear()
