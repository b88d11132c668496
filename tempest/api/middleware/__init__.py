"""Pure ASGI middleware shipped with tempest."""

from tempest.api.middleware.body_limit import BodySizeLimitMiddleware
from tempest.api.middleware.cors import CORSMiddleware, apply_cors
from tempest.api.middleware.csrf import CSRFMiddleware
from tempest.api.middleware.graceful_shutdown import GracefulShutdownMiddleware
from tempest.api.middleware.hosts import AllowedHostsMiddleware
from tempest.api.middleware.idempotency import (
    IdempotencyMiddleware,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from tempest.api.middleware.rate_limit import (
    MemoryRateLimitStore,
    RateLimitMiddleware,
    RateLimitResult,
    RateLimitStore,
    RedisRateLimitStore,
    key_by_header,
    key_by_ip,
    key_by_jwt_claim,
    key_by_jwt_subject,
)
from tempest.api.middleware.request_id import RequestIDMiddleware

__all__ = [
    "AllowedHostsMiddleware",
    "BodySizeLimitMiddleware",
    "CORSMiddleware",
    "CSRFMiddleware",
    "GracefulShutdownMiddleware",
    "IdempotencyMiddleware",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "MemoryRateLimitStore",
    "RateLimitMiddleware",
    "RateLimitResult",
    "RateLimitStore",
    "RedisIdempotencyStore",
    "RedisRateLimitStore",
    "RequestIDMiddleware",
    "apply_cors",
    "key_by_header",
    "key_by_ip",
    "key_by_jwt_claim",
    "key_by_jwt_subject",
]
