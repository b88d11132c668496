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
    "BaseStrEnum": "tempest.core.enums",
    "BaseIntEnum": "tempest.core.enums",
    # db
    "BaseModel": "tempest.db",
    "AsyncDatabaseManager": "tempest.db",
    "NAMING_CONVENTION": "tempest.db",
    # schemas
    "BaseSchema": "tempest.schemas",
    "BaseResponseSchema": "tempest.schemas",
    "BasePaginationFilterSchema": "tempest.schemas",
    "BasePaginationSchema": "tempest.schemas",
    "CursorPaginationFilterSchema": "tempest.schemas",
    "CursorPaginationSchema": "tempest.schemas",
    "LogEntrySchema": "tempest.schemas",
    "encode_cursor": "tempest.schemas",
    "decode_cursor": "tempest.schemas",
    "build_pagination_link_header": "tempest.schemas",
    # services and controllers
    "BaseService": "tempest.services",
    "BaseController": "tempest.controllers",
    # utils
    "to_utc": "tempest.utils",
    "utcnow": "tempest.utils",
    "modify_dict": "tempest.utils",
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
        HealthCheck as HealthCheck,
    )
    from tempest.api import (
        RequestIDMiddleware as RequestIDMiddleware,
    )
    from tempest.api import (
        app_exception_handler as app_exception_handler,
    )
    from tempest.api import (
        apply_cors as apply_cors,
    )
    from tempest.api import (
        make_health_router as make_health_router,
    )
    from tempest.api import (
        register_exception_handlers as register_exception_handlers,
    )
    from tempest.api import (
        run_server as run_server,
    )
    from tempest.apps import AppConfig as AppConfig
    from tempest.apps import apps as apps
    from tempest.conf import (
        AuthSettings as AuthSettings,
    )
    from tempest.conf import (
        BaseAppSettings as BaseAppSettings,
    )
    from tempest.conf import (
        CORSSettings as CORSSettings,
    )
    from tempest.conf import (
        DatabaseSettings as DatabaseSettings,
    )
    from tempest.conf import (
        EmailSettings as EmailSettings,
    )
    from tempest.conf import (
        ImproperlyConfigured as ImproperlyConfigured,
    )
    from tempest.conf import (
        JWTSettings as JWTSettings,
    )
    from tempest.conf import (
        LogSettings as LogSettings,
    )
    from tempest.conf import (
        MinIOSettings as MinIOSettings,
    )
    from tempest.conf import (
        RabbitMQSettings as RabbitMQSettings,
    )
    from tempest.conf import (
        RedisSettings as RedisSettings,
    )
    from tempest.conf import (
        ServerSettings as ServerSettings,
    )
    from tempest.conf import (
        Settings as Settings,
    )
    from tempest.conf import (
        TaskIQSettings as TaskIQSettings,
    )
    from tempest.conf import (
        TokenSettings as TokenSettings,
    )
    from tempest.conf import (
        UploadSettings as UploadSettings,
    )
    from tempest.conf import (
        WebPushSettings as WebPushSettings,
    )
    from tempest.conf import (
        override_settings as override_settings,
    )
    from tempest.conf import (
        settings as settings,
    )
    from tempest.controllers import BaseController as BaseController
    from tempest.core.checks import register_check as register_check
    from tempest.core.context import (
        clear_request_id as clear_request_id,
    )
    from tempest.core.context import (
        get_request_id as get_request_id,
    )
    from tempest.core.context import (
        request_id_ctx as request_id_ctx,
    )
    from tempest.core.context import (
        set_request_id as set_request_id,
    )
    from tempest.core.enums import BaseIntEnum as BaseIntEnum
    from tempest.core.enums import BaseStrEnum as BaseStrEnum
    from tempest.core.logging import (
        JSONFormatter as JSONFormatter,
    )
    from tempest.core.logging import (
        configure_logging as configure_logging,
    )
    from tempest.db import (
        NAMING_CONVENTION as NAMING_CONVENTION,
    )
    from tempest.db import (
        AsyncDatabaseManager as AsyncDatabaseManager,
    )
    from tempest.db import (
        BaseModel as BaseModel,
    )
    from tempest.exceptions import (
        AppException as AppException,
    )
    from tempest.exceptions import (
        ConflictException as ConflictException,
    )
    from tempest.exceptions import (
        ExpiredTokenException as ExpiredTokenException,
    )
    from tempest.exceptions import (
        FileTooLargeException as FileTooLargeException,
    )
    from tempest.exceptions import (
        ForbiddenException as ForbiddenException,
    )
    from tempest.exceptions import (
        InvalidFileTypeException as InvalidFileTypeException,
    )
    from tempest.exceptions import (
        InvalidTokenException as InvalidTokenException,
    )
    from tempest.exceptions import (
        NotFoundException as NotFoundException,
    )
    from tempest.exceptions import (
        TooManyRequestsException as TooManyRequestsException,
    )
    from tempest.exceptions import (
        UnauthorizedException as UnauthorizedException,
    )
    from tempest.exceptions import (
        ValidationException as ValidationException,
    )
    from tempest.schemas import (
        BasePaginationFilterSchema as BasePaginationFilterSchema,
    )
    from tempest.schemas import (
        BasePaginationSchema as BasePaginationSchema,
    )
    from tempest.schemas import (
        BaseResponseSchema as BaseResponseSchema,
    )
    from tempest.schemas import (
        BaseSchema as BaseSchema,
    )
    from tempest.schemas import (
        CursorPaginationFilterSchema as CursorPaginationFilterSchema,
    )
    from tempest.schemas import (
        CursorPaginationSchema as CursorPaginationSchema,
    )
    from tempest.schemas import (
        LogEntrySchema as LogEntrySchema,
    )
    from tempest.schemas import (
        build_pagination_link_header as build_pagination_link_header,
    )
    from tempest.schemas import (
        decode_cursor as decode_cursor,
    )
    from tempest.schemas import (
        encode_cursor as encode_cursor,
    )
    from tempest.services import BaseService as BaseService
    from tempest.utils import modify_dict as modify_dict
    from tempest.utils import to_utc as to_utc
    from tempest.utils import utcnow as utcnow
