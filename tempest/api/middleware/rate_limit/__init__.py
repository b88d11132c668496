"""Pure ASGI rate limiting: a sliding-window log per key, in memory or in Redis.

Each key (the client IP by default) may make ``max_requests`` requests inside any
``window_seconds`` window. The log keeps the time of every request it let through, so
the limit is exact at any instant (no burst of twice the limit across a window edge,
as fixed windows allow). A refused request is not logged: a client hammering a limited
key gets through again as soon as its oldest logged request leaves the window.

Stores:

- :class:`MemoryRateLimitStore`: this process only (one worker, tests, ``runserver``).
- :class:`RedisRateLimitStore`: every process and host sharing a Redis. One Lua script,
  loaded once and run by its SHA (``EVALSHA``, reloaded on ``NOSCRIPT``), per check:
  one round trip, atomic, on the Redis server's clock (never the app's), over a sorted
  set per key that expires on its own.

Answers carry the IETF ``RateLimit-Policy`` and ``RateLimit`` header fields
(draft-ietf-httpapi-ratelimit-headers-10/11: ``"default";q=100;w=60`` and
``"default";r=42;t=17``); a 429 adds ``Retry-After`` and the ``{detail, code, details}``
envelope with code ``RATE_LIMITED``.
"""

from tempest.api.middleware.rate_limit.keys import (
    KeyFunc,
    key_by_header,
    key_by_ip,
    key_by_jwt_claim,
    key_by_jwt_subject,
)
from tempest.api.middleware.rate_limit.middleware import RateLimitMiddleware
from tempest.api.middleware.rate_limit.stores import (
    MemoryRateLimitStore,
    RateLimitResult,
    RateLimitStore,
    RateLimitUnavailableError,
    RedisRateLimitStore,
)

__all__ = [
    "KeyFunc",
    "MemoryRateLimitStore",
    "RateLimitMiddleware",
    "RateLimitResult",
    "RateLimitStore",
    "RateLimitUnavailableError",
    "RedisRateLimitStore",
    "key_by_header",
    "key_by_ip",
    "key_by_jwt_claim",
    "key_by_jwt_subject",
]
