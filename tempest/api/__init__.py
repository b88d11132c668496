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
    "get_client_ip": "tempest.utils.client_ip",
    "get_client_ip_from_scope": "tempest.utils.client_ip",
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
    from tempest.utils.client_ip import (
        get_client_ip as get_client_ip,
        get_client_ip_from_scope as get_client_ip_from_scope,
    )
