"""HTTP layer: exception handlers, middleware, health endpoints, docs pages, server entry."""

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.api.dependencies import (
    make_bearer_token_dependency,
    make_jwt_user_dependency,
    make_permission_dependency,
    make_role_dependency,
    make_token_dependency,
    require_x_token,
)
from tempest.api.docs import serve_docs_offline
from tempest.api.exception_handlers import app_exception_handler, register_exception_handlers
from tempest.api.health import HealthCheck, make_health_router
from tempest.api.middleware import (
    BodySizeLimitMiddleware,
    CORSMiddleware,
    RequestIDMiddleware,
    apply_cors,
)
from tempest.api.openapi import document_error_envelope
from tempest.api.server import run_server

# Loaded on first use: name -> the module that defines it. The TYPE_CHECKING block below
# imports exactly these names, and __all__ lists them (tests/test_exports.py checks both).
_LAZY: dict[str, str] = {
    "GracefulShutdownMiddleware": "tempest.api.middleware.graceful_shutdown",
    "CSRFMiddleware": "tempest.api.middleware.csrf",
    "make_csrf_token_dependency": "tempest.api.middleware.csrf",
    "SameSite": "tempest.api.cookies",
    "clear_cookie": "tempest.api.cookies",
    "set_cookie": "tempest.api.cookies",
    "DEFAULT_STATIC_SECURITY_HEADERS": "tempest.api.staticfiles",
    "HardenedStaticFiles": "tempest.api.staticfiles",
    "DatabaseIdempotencyStore": "tempest.db.idempotency",
    "IdempotencyMiddleware": "tempest.api.middleware.idempotency",
    "IdempotencyStoreUnavailableError": "tempest.api.middleware.idempotency",
    "IdempotencyStore": "tempest.api.middleware.idempotency",
    "MemoryIdempotencyStore": "tempest.api.middleware.idempotency",
    "RedisIdempotencyStore": "tempest.api.middleware.idempotency",
    "MemoryRateLimitStore": "tempest.api.middleware.rate_limit",
    "RateLimitMiddleware": "tempest.api.middleware.rate_limit",
    "RateLimitResult": "tempest.api.middleware.rate_limit",
    "RateLimitStore": "tempest.api.middleware.rate_limit",
    "RedisRateLimitStore": "tempest.api.middleware.rate_limit",
    "key_by_header": "tempest.api.middleware.rate_limit",
    "key_by_ip": "tempest.api.middleware.rate_limit",
    "key_by_jwt_claim": "tempest.api.middleware.rate_limit",
    "key_by_jwt_subject": "tempest.api.middleware.rate_limit",
    "MemoryReplayStore": "tempest.api.webhooks",
    "RSAWebhookSignatureVerifier": "tempest.api.webhooks",
    "RedisReplayStore": "tempest.api.webhooks",
    "ReplayStore": "tempest.api.webhooks",
    "StandardWebhookSigner": "tempest.api.webhooks",
    "StandardWebhookVerifier": "tempest.api.webhooks",
    "StripeWebhookVerifier": "tempest.api.webhooks",
    "WebhookSignatureError": "tempest.api.webhooks",
    "WebhookSignatureVerifier": "tempest.api.webhooks",
    "PrometheusMiddleware": "tempest.api.prometheus",
    "make_prometheus_registry": "tempest.api.prometheus",
    "make_prometheus_router": "tempest.api.prometheus",
    "get_client_ip": "tempest.utils.client_ip",
    "get_client_ip_from_scope": "tempest.utils.client_ip",
    "LogSource": "tempest.api.logs_reader",
    "make_logs_router": "tempest.api.logs",
    "make_tool_spec_router": "tempest.api.tool_spec",
    "openapi_tools": "tempest.api.tool_spec",
}

__all__ = [
    "BodySizeLimitMiddleware",
    "CORSMiddleware",
    "HealthCheck",
    "RequestIDMiddleware",
    "app_exception_handler",
    "apply_cors",
    "document_error_envelope",
    "make_bearer_token_dependency",
    "make_health_router",
    "make_jwt_user_dependency",
    "make_permission_dependency",
    "make_role_dependency",
    "make_token_dependency",
    "register_exception_handlers",
    "require_x_token",
    "run_server",
    "serve_docs_offline",
    *_LAZY,
]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.api.cookies import (
        SameSite as SameSite,
        clear_cookie as clear_cookie,
        set_cookie as set_cookie,
    )
    from tempest.api.logs import make_logs_router as make_logs_router
    from tempest.api.logs_reader import LogSource as LogSource
    from tempest.api.middleware.csrf import (
        CSRFMiddleware as CSRFMiddleware,
        make_csrf_token_dependency as make_csrf_token_dependency,
    )
    from tempest.api.middleware.graceful_shutdown import (
        GracefulShutdownMiddleware as GracefulShutdownMiddleware,
    )
    from tempest.api.middleware.idempotency import (
        IdempotencyMiddleware as IdempotencyMiddleware,
        IdempotencyStore as IdempotencyStore,
        IdempotencyStoreUnavailableError as IdempotencyStoreUnavailableError,
        MemoryIdempotencyStore as MemoryIdempotencyStore,
        RedisIdempotencyStore as RedisIdempotencyStore,
    )
    from tempest.api.middleware.rate_limit import (
        MemoryRateLimitStore as MemoryRateLimitStore,
        RateLimitMiddleware as RateLimitMiddleware,
        RateLimitResult as RateLimitResult,
        RateLimitStore as RateLimitStore,
        RedisRateLimitStore as RedisRateLimitStore,
        key_by_header as key_by_header,
        key_by_ip as key_by_ip,
        key_by_jwt_claim as key_by_jwt_claim,
        key_by_jwt_subject as key_by_jwt_subject,
    )
    from tempest.api.prometheus import (
        PrometheusMiddleware as PrometheusMiddleware,
        make_prometheus_registry as make_prometheus_registry,
        make_prometheus_router as make_prometheus_router,
    )
    from tempest.api.staticfiles import (
        DEFAULT_STATIC_SECURITY_HEADERS as DEFAULT_STATIC_SECURITY_HEADERS,
        HardenedStaticFiles as HardenedStaticFiles,
    )
    from tempest.api.tool_spec import (
        make_tool_spec_router as make_tool_spec_router,
        openapi_tools as openapi_tools,
    )
    from tempest.api.webhooks import (
        MemoryReplayStore as MemoryReplayStore,
        RedisReplayStore as RedisReplayStore,
        ReplayStore as ReplayStore,
        RSAWebhookSignatureVerifier as RSAWebhookSignatureVerifier,
        StandardWebhookSigner as StandardWebhookSigner,
        StandardWebhookVerifier as StandardWebhookVerifier,
        StripeWebhookVerifier as StripeWebhookVerifier,
        WebhookSignatureError as WebhookSignatureError,
        WebhookSignatureVerifier as WebhookSignatureVerifier,
    )
    from tempest.db.idempotency import DatabaseIdempotencyStore as DatabaseIdempotencyStore
    from tempest.utils.client_ip import (
        get_client_ip as get_client_ip,
        get_client_ip_from_scope as get_client_ip_from_scope,
    )
