"""The project's cache: one backend built from settings, connected by the app's lifespan.

``CACHE_URL`` names it (``memory://`` or ``redis://...``); unset, it follows
``REDIS_URL``, and without either it is in the process's memory. ``@cached`` and
``@cached_route`` without an explicit backend use it, so a project moves its cache to
Redis by setting ``REDIS_URL`` alone.
"""

from __future__ import annotations

import logging
from typing import Any

from tempest.cache.backends import CacheBackend, MemoryCacheBackend
from tempest.cache.keys import DEFAULT_PREFIX

__all__ = [
    "backend_resolver",
    "cache_health_check",
    "cache_url",
    "cache_uses_redis",
    "default_ttl",
    "get_cache",
    "reset_cache",
    "start_cache",
    "stop_cache",
]

logger = logging.getLogger("tempest.cache")

_REDIS_SCHEMES = ("redis", "rediss", "unix")
_DEFAULT_TTL = 300.0

_cache: CacheBackend | None = None


def cache_url(settings: Any) -> str:
    """Where the project's cache lives: ``CACHE_URL``, else ``REDIS_URL``, else memory."""
    from tempest.conf.shared_state import shared_state_url

    return shared_state_url(settings, getattr(settings, "CACHE_URL", None))


def cache_uses_redis(settings: Any) -> bool:
    """Whether the project's cache is in Redis (the lifespan connects it, readiness checks it)."""
    url = cache_url(settings)
    return url.split("://", 1)[0].lower() in _REDIS_SCHEMES if "://" in url else False


def default_ttl() -> float:
    """``CACHE_TTL_SECONDS`` of the settings, or 300 when no settings are configured."""
    try:
        from tempest.conf import settings

        return float(getattr(settings, "CACHE_TTL_SECONDS", _DEFAULT_TTL))
    except Exception:  # no settings module: a script using @cached on its own
        return _DEFAULT_TTL


def get_cache() -> CacheBackend:
    """The project's cache backend, built from settings on first use.

    Raises:
        ImproperlyConfigured: ``CACHE_URL`` (or ``REDIS_URL``) names another scheme.
    """
    global _cache
    if _cache is None:
        _cache = _build()
    return _cache


def _build() -> CacheBackend:
    from tempest.conf import settings
    from tempest.conf.masking import mask_url
    from tempest.exceptions.framework import ImproperlyConfigured

    url = cache_url(settings)
    prefix = str(getattr(settings, "CACHE_KEY_PREFIX", DEFAULT_PREFIX))
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in _REDIS_SCHEMES:
        from tempest.cache.redis_backend import RedisCacheBackend

        return RedisCacheBackend.from_url(url, prefix=prefix)
    if scheme == "memory":
        return MemoryCacheBackend(
            max_entries=int(getattr(settings, "CACHE_MAX_ENTRIES", 10_000)), prefix=prefix
        )
    raise ImproperlyConfigured(
        f"CACHE_URL must be 'memory://' or a redis:// URL, got {mask_url(url)!r}; "
        "fix it (or REDIS_URL) in the settings or the environment."
    )


def reset_cache() -> None:
    """Forget the project's cache: the next use builds it from the settings again.

    Call :func:`stop_cache` instead when it may hold connections.
    """
    global _cache
    _cache = None


async def start_cache() -> None:
    """Build the project's cache and, in Redis, check that it answers.

    A Redis that does not answer is logged, not raised: the cache is bypassed until it
    is back, and readiness reports it.
    """
    backend = get_cache()
    if not await backend.health_check():
        logger.warning(
            "cache: Redis does not answer at start-up; cached functions run uncached until it does"
        )


async def stop_cache() -> None:
    """Close the project's cache (its connections) and forget it."""
    global _cache
    backend, _cache = _cache, None
    if backend is not None:
        await backend.aclose()


async def cache_health_check() -> bool:
    """Readiness probe of the project's cache: whether its store answers."""
    return await get_cache().health_check()


def backend_resolver(source: Any) -> Any:
    """A function giving the backend ``source`` names, resolved at each call.

    Args:
        source: None (the project's cache, as it is when called), an
            :class:`~tempest.cache.AsyncRedisManager`, a ``redis.asyncio.Redis`` client
            (used as is: create it with ``decode_responses=False``) or a
            :class:`CacheBackend`.

    Returns:
        A function of no arguments returning the backend.

    Raises:
        TypeError: ``source`` is none of those.
    """
    if source is None:
        return get_cache
    from tempest.cache.manager import AsyncRedisManager

    if isinstance(source, AsyncRedisManager):
        return lambda: source.cache_backend
    if callable(getattr(source, "register_script", None)) and callable(
        getattr(source, "mget", None)
    ):
        from tempest.cache.redis_backend import RedisCacheBackend

        backend = RedisCacheBackend(source)
        return lambda: backend
    if isinstance(source, CacheBackend):
        return lambda: source
    raise TypeError(
        "the cache must be None (the project's cache), an AsyncRedisManager, a "
        f"redis.asyncio.Redis client or a CacheBackend, got {type(source).__name__}"
    )
