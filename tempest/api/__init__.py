"""HTTP layer: exception handlers, middleware, health endpoints and the server entry."""

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
    "make_health_router",
    "register_exception_handlers",
    "run_server",
]
