"""tempest: a Django-style, batteries-included framework for async Python services.

Importing ``tempest`` is cheap: the public names below are resolved lazily (PEP 562),
so FastAPI, SQLAlchemy and pydantic are imported only when a name that needs them is
first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it. Resolved on first attribute access.
_LAZY_EXPORTS: dict[str, str] = {
    # settings
    "Settings": "tempest.conf",
    "BaseAppSettings": "tempest.conf",
    "ServerSettings": "tempest.conf",
    "LogSettings": "tempest.conf",
    "DatabaseSettings": "tempest.conf",
    "CORSSettings": "tempest.conf",
    "RedisSettings": "tempest.conf",
    "RabbitMQSettings": "tempest.conf",
    "TaskIQSettings": "tempest.conf",
    "JWTSettings": "tempest.conf",
    "EmailSettings": "tempest.conf",
    "UploadSettings": "tempest.conf",
    "TokenSettings": "tempest.conf",
    "WebPushSettings": "tempest.conf",
    "MinIOSettings": "tempest.conf",
    "AuthSettings": "tempest.conf",
    "settings": "tempest.conf",
    "override_settings": "tempest.conf",
    "ImproperlyConfigured": "tempest.conf",
    # apps
    "AppConfig": "tempest.apps",
    "apps": "tempest.apps",
    # exceptions
    "AppException": "tempest.exceptions",
    "NotFoundException": "tempest.exceptions",
    "ConflictException": "tempest.exceptions",
    "ValidationException": "tempest.exceptions",
    "UnauthorizedException": "tempest.exceptions",
    "ForbiddenException": "tempest.exceptions",
    "InvalidTokenException": "tempest.exceptions",
    "ExpiredTokenException": "tempest.exceptions",
    "FileTooLargeException": "tempest.exceptions",
    "InvalidFileTypeException": "tempest.exceptions",
    "TooManyRequestsException": "tempest.exceptions",
    # api
    "register_exception_handlers": "tempest.api",
    "app_exception_handler": "tempest.api",
    "apply_cors": "tempest.api",
    "make_health_router": "tempest.api",
    "HealthCheck": "tempest.api",
    "RequestIDMiddleware": "tempest.api",
    "run_server": "tempest.api",
    # core
    "configure_logging": "tempest.core.logging",
    "JSONFormatter": "tempest.core.logging",
    "get_request_id": "tempest.core.context",
    "set_request_id": "tempest.core.context",
    "clear_request_id": "tempest.core.context",
    "request_id_ctx": "tempest.core.context",
    "register_check": "tempest.core.checks",
    # db
    "BaseModel": "tempest.db",
    "AsyncDatabaseManager": "tempest.db",
    "NAMING_CONVENTION": "tempest.db",
}

__all__ = ["__version__", "setup", *_LAZY_EXPORTS]


def setup() -> None:
    """Load the settings and populate the app registry.

    Called by ``manage.py``, by :func:`tempest.core.asgi.get_asgi_application` and by the
    test plugin. Calling it again is a no-op.

    Raises:
        ImproperlyConfigured: The settings cannot be loaded or an installed app is broken.
    """
    from tempest.apps import apps
    from tempest.conf import settings

    apps.populate(settings.INSTALLED_APPS)


def __getattr__(name: str) -> Any:
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tempest' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs
    from tempest.api import (
        HealthCheck,
        RequestIDMiddleware,
        app_exception_handler,
        apply_cors,
        make_health_router,
        register_exception_handlers,
        run_server,
    )
    from tempest.apps import AppConfig, apps
    from tempest.conf import (
        AuthSettings,
        BaseAppSettings,
        CORSSettings,
        DatabaseSettings,
        EmailSettings,
        ImproperlyConfigured,
        JWTSettings,
        LogSettings,
        MinIOSettings,
        RabbitMQSettings,
        RedisSettings,
        ServerSettings,
        Settings,
        TaskIQSettings,
        TokenSettings,
        UploadSettings,
        WebPushSettings,
        override_settings,
        settings,
    )
    from tempest.core.checks import register_check
    from tempest.core.context import (
        clear_request_id,
        get_request_id,
        request_id_ctx,
        set_request_id,
    )
    from tempest.core.logging import JSONFormatter, configure_logging
    from tempest.db import NAMING_CONVENTION, AsyncDatabaseManager, BaseModel
    from tempest.exceptions import (
        AppException,
        ConflictException,
        ExpiredTokenException,
        FileTooLargeException,
        ForbiddenException,
        InvalidFileTypeException,
        InvalidTokenException,
        NotFoundException,
        TooManyRequestsException,
        UnauthorizedException,
        ValidationException,
    )
