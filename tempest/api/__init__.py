"""HTTP layer: exception handlers, middleware, health endpoints and the server entry."""

from tempest.api.dependencies import (
    make_bearer_token_dependency,
    make_jwt_user_dependency,
    make_permission_dependency,
    make_role_dependency,
    make_token_dependency,
    require_x_token,
)
from tempest.api.exception_handlers import app_exception_handler, register_exception_handlers
from tempest.api.health import HealthCheck, make_health_router
from tempest.api.middleware import CORSMiddleware, RequestIDMiddleware, apply_cors
from tempest.api.server import run_server

__all__ = [
    "CORSMiddleware",
    "HealthCheck",
    "RequestIDMiddleware",
    "app_exception_handler",
    "apply_cors",
    "make_bearer_token_dependency",
    "make_health_router",
    "make_jwt_user_dependency",
    "make_permission_dependency",
    "make_role_dependency",
    "make_token_dependency",
    "register_exception_handlers",
    "require_x_token",
    "run_server",
]
