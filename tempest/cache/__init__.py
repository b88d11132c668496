"""The cache: ``@cached`` functions and ``@cached_route`` routes, in memory or in Redis.

The project's cache follows the settings (``CACHE_URL``, else ``REDIS_URL``, else the
process's memory); the app's lifespan connects and closes it, and readiness checks it
when it is Redis. Importing this package imports neither redis nor pydantic.
"""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "AsyncRedisManager": "tempest.cache.manager",
    "cached": "tempest.cache.decorator",
    "cached_route": "tempest.cache.routes",
    "CacheInvalidator": "tempest.cache.invalidation",
    "namespace_registry_key": "tempest.cache.keys",
    "tag_registry_key": "tempest.cache.keys",
    "CacheBackend": "tempest.cache.backends",
    "CacheUnavailableError": "tempest.cache.backends",
    "MemoryCacheBackend": "tempest.cache.backends",
    "RedisCacheBackend": "tempest.cache.redis_backend",
    "get_cache": "tempest.cache.project",
    "reset_cache": "tempest.cache.project",
    "start_cache": "tempest.cache.project",
    "stop_cache": "tempest.cache.project",
    "cache_health_check": "tempest.cache.project",
    "cache_uses_redis": "tempest.cache.project",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.cache.backends import (
        CacheBackend as CacheBackend,
        CacheUnavailableError as CacheUnavailableError,
        MemoryCacheBackend as MemoryCacheBackend,
    )
    from tempest.cache.decorator import cached as cached
    from tempest.cache.invalidation import CacheInvalidator as CacheInvalidator
    from tempest.cache.keys import (
        namespace_registry_key as namespace_registry_key,
        tag_registry_key as tag_registry_key,
    )
    from tempest.cache.manager import AsyncRedisManager as AsyncRedisManager
    from tempest.cache.project import (
        cache_health_check as cache_health_check,
        cache_uses_redis as cache_uses_redis,
        get_cache as get_cache,
        reset_cache as reset_cache,
        start_cache as start_cache,
        stop_cache as stop_cache,
    )
    from tempest.cache.redis_backend import RedisCacheBackend as RedisCacheBackend
    from tempest.cache.routes import cached_route as cached_route
