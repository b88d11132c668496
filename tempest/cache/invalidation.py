"""CacheInvalidator: drop cached entries by tag, by namespace or one call at a time.

Tags and namespaces are invalidated by incrementing their version counter (one round
trip, however many entries carry them): every entry loaded under the old value is
ignored from then on by every process, and expires on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from tempest.cache.backends import CacheBackend, CacheUnavailableError
from tempest.cache.keys import check_names, namespace_registry_key, tag_registry_key

__all__ = ["CacheInvalidator"]

logger = logging.getLogger("tempest.cache")


class CacheInvalidator:
    """Invalidate entries of one cache (the project's by default).

    When the cache's Redis cannot be reached, nothing is invalidated: the call logs a
    warning and returns False (it does not raise, so the write that asked for it is not
    undone). Entries cached before such an outage live until their TTL.
    """

    def __init__(self, backend: Any = None) -> None:
        """Invalidate in ``backend``.

        Args:
            backend: None (the project's cache, as it is at each call), an
                :class:`~tempest.cache.AsyncRedisManager`, a ``redis.asyncio.Redis``
                client or a :class:`~tempest.cache.CacheBackend`.

        Raises:
            TypeError: ``backend`` is none of those.
        """
        from tempest.cache.project import backend_resolver

        self._resolve: Callable[[], CacheBackend] = backend_resolver(backend)

    @property
    def backend(self) -> CacheBackend:
        """The backend invalidated now."""
        return self._resolve()

    async def invalidate_tags(self, *tags: str) -> bool:
        """Invalidate every entry carrying one of ``tags``.

        Returns:
            True when done, False when the cache's store cannot be reached.

        Raises:
            ValueError: A tag with separators or wildcards.
        """
        names = check_names(tags, "tag")
        backend = self._resolve()
        return await self._bump(
            backend, [tag_registry_key(tag, backend.prefix) for tag in names], f"tags {names}"
        )

    async def invalidate_namespaces(self, *namespaces: str) -> bool:
        """Invalidate every entry of ``namespaces``.

        Returns:
            True when done, False when the cache's store cannot be reached.

        Raises:
            ValueError: A namespace with separators or wildcards.
        """
        names = check_names(namespaces, "namespace")
        backend = self._resolve()
        counters = [namespace_registry_key(name, backend.prefix) for name in names]
        return await self._bump(backend, counters, f"namespaces {names}")

    async def invalidate_call(
        self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
    ) -> bool:
        """Drop the entry of one call of an ``@cached`` function.

        Returns:
            True when done, False when the cache's store cannot be reached.

        Raises:
            TypeError: ``function`` is not decorated with ``@cached``.
        """
        invalidate = getattr(function, "invalidate", None)
        if invalidate is None:
            raise TypeError(f"{function!r} is not an @cached function")
        try:
            await invalidate(*args, **kwargs)
        except CacheUnavailableError:
            logger.warning("cache: could not invalidate a call of %r: Redis unreachable", function)
            return False
        return True

    async def _bump(self, backend: CacheBackend, counters: list[str], what: str) -> bool:
        try:
            await backend.bump(counters)
        except CacheUnavailableError:
            logger.warning("cache: could not invalidate %s: the cache's Redis is unreachable", what)
            return False
        return True
