"""tempest: a Django-style, batteries-included framework for async Python services.

Importing ``tempest`` is cheap: the public names below are resolved lazily (PEP 562),
so FastAPI, SQLAlchemy and pydantic are imported only when a name that needs them is
first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

__version__ = "0.1.0"

# Public name -> module that defines it. Resolved on first attribute access. The
# TYPE_CHECKING block at the end imports exactly these names from these modules, and
# __all__ lists them (tests/test_exports.py checks both, and that mypy types none as Any).
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
    # (The registry is `from tempest.apps import apps`: `tempest.apps` is the subpackage.)
    "AppConfig": "tempest.apps",
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
    "ServiceUnavailableException": "tempest.exceptions",
    # api
    "register_exception_handlers": "tempest.api",
    "app_exception_handler": "tempest.api",
    "apply_cors": "tempest.api",
    "make_health_router": "tempest.api",
    "HealthCheck": "tempest.api",
    "RequestIDMiddleware": "tempest.api",
    "GracefulShutdownMiddleware": "tempest.api",
    "CSRFMiddleware": "tempest.api",
    "make_csrf_token_dependency": "tempest.api",
    "SameSite": "tempest.api",
    "clear_cookie": "tempest.api",
    "set_cookie": "tempest.api",
    "HardenedStaticFiles": "tempest.api",
    "DEFAULT_STATIC_SECURITY_HEADERS": "tempest.api",
    "IdempotencyMiddleware": "tempest.api",
    "IdempotencyStore": "tempest.api",
    "MemoryIdempotencyStore": "tempest.api",
    "RedisIdempotencyStore": "tempest.api",
    "MemoryRateLimitStore": "tempest.api",
    "RateLimitMiddleware": "tempest.api",
    "RateLimitResult": "tempest.api",
    "RateLimitStore": "tempest.api",
    "RedisRateLimitStore": "tempest.api",
    "key_by_header": "tempest.api",
    "key_by_ip": "tempest.api",
    "key_by_jwt_claim": "tempest.api",
    "key_by_jwt_subject": "tempest.api",
    "BodySizeLimitMiddleware": "tempest.api",
    "run_server": "tempest.api",
    "make_token_dependency": "tempest.api",
    "require_x_token": "tempest.api",
    "make_bearer_token_dependency": "tempest.api",
    "make_jwt_user_dependency": "tempest.api",
    "make_role_dependency": "tempest.api",
    "make_permission_dependency": "tempest.api",
    # core
    "configure_logging": "tempest.core.logging",
    "JSONFormatter": "tempest.core.logging",
    "get_request_id": "tempest.utils.context",
    "set_request_id": "tempest.utils.context",
    "clear_request_id": "tempest.utils.context",
    "request_id_ctx": "tempest.utils.context",
    "register_check": "tempest.core.checks",
    "BaseStrEnum": "tempest.utils.enums",
    "BaseIntEnum": "tempest.utils.enums",
    # db
    "BaseModel": "tempest.db",
    "AlembicHelper": "tempest.db",
    "DestructiveMigrationError": "tempest.db",
    "MigrationError": "tempest.db",
    "AsyncDatabaseManager": "tempest.db",
    "NAMING_CONVENTION": "tempest.db",
    "BaseRepository": "tempest.db",
    "TenantScopedRepository": "tempest.db",
    "AuditMixin": "tempest.db",
    "BaseIdempotencyKeyModel": "tempest.db",
    "BaseOutboxModel": "tempest.db",
    "DatabaseIdempotencyStore": "tempest.db",
    "OutboxRelay": "tempest.db",
    "OutboxStatus": "tempest.db",
    "SoftDeleteMixin": "tempest.db",
    "atomic": "tempest.db",
    "BASE_COLUMN_ORDER": "tempest.db",
    "SlowQueryLogger": "tempest.db",
    "compose_hooks": "tempest.db",
    "reorder_base_columns_first": "tempest.db",
    "transactional": "tempest.db",
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
    # mail
    "EmailUtils": "tempest.mail",
    "EmailError": "tempest.mail",
    "EmailTemplateNotFound": "tempest.mail",
    "EmailTemplates": "tempest.mail",
    "RenderedEmail": "tempest.mail",
    "normalize_locale": "tempest.mail",
    "negotiate_locale": "tempest.mail",
    # utils
    "to_utc": "tempest.utils",
    "utcnow": "tempest.utils",
    "modify_dict": "tempest.utils",
    "PasswordUtils": "tempest.utils",
    "JWTUtils": "tempest.utils",
    "TOTPHelper": "tempest.utils",
    "generate_opaque_token": "tempest.utils",
    "hash_opaque_token": "tempest.utils",
    "verify_opaque_token": "tempest.utils",
    "AttemptThrottle": "tempest.utils",
    "ThrottleBackend": "tempest.utils",
    "ThrottleResult": "tempest.utils",
    "ThrottleStatus": "tempest.utils",
    "MemoryThrottleBackend": "tempest.utils",
    "RedisThrottleBackend": "tempest.utils",
    "ThrottleUnavailableError": "tempest.utils",
    "get_client_ip": "tempest.utils",
    "get_client_ip_from_scope": "tempest.utils",
    "CPUMetrics": "tempest.utils",
    "DiskMetrics": "tempest.utils",
    "GPUMetrics": "tempest.utils",
    "MemoryMetrics": "tempest.utils",
    "MetricsUtils": "tempest.utils",
    "SystemMetrics": "tempest.utils",
    # auth flow
    "UserAuthService": "tempest.contrib.auth.service",
    "make_auth_router": "tempest.contrib.auth.router",
    "SignupSchema": "tempest.contrib.auth.schemas",
    "LoginSchema": "tempest.contrib.auth.schemas",
    "RefreshSchema": "tempest.contrib.auth.schemas",
    "LogoutSchema": "tempest.contrib.auth.schemas",
    "ActivationResendSchema": "tempest.contrib.auth.schemas",
    "ActivationSchema": "tempest.contrib.auth.schemas",
    "PasswordResetRequestSchema": "tempest.contrib.auth.schemas",
    "PasswordResetConfirmSchema": "tempest.contrib.auth.schemas",
    "TokenPairResponseSchema": "tempest.contrib.auth.schemas",
    "MFAChallengeResponseSchema": "tempest.contrib.auth.schemas",
    "MFAEnrollResponseSchema": "tempest.contrib.auth.schemas",
    "MFAConfirmSchema": "tempest.contrib.auth.schemas",
    "MFAVerifySchema": "tempest.contrib.auth.schemas",
    "MFADisableSchema": "tempest.contrib.auth.schemas",
    "MFARecoveryCodesResponseSchema": "tempest.contrib.auth.schemas",
    # background tasks
    "task": "tempest.tasks",
    "periodic": "tempest.tasks",
    "TaskSession": "tempest.tasks",
    # cache
    "AsyncRedisManager": "tempest.cache",
    "cached": "tempest.cache",
    "cached_route": "tempest.cache",
    "CacheInvalidator": "tempest.cache",
    "namespace_registry_key": "tempest.cache",
    "tag_registry_key": "tempest.cache",
    # feature flags
    "FeatureFlags": "tempest.flags",
    "FeatureFlagBackend": "tempest.flags",
    "MemoryFeatureFlagBackend": "tempest.flags",
    "EnvFeatureFlagBackend": "tempest.flags",
    "RedisFeatureFlagBackend": "tempest.flags",
    "CompositeFeatureFlagBackend": "tempest.flags",
    "make_flag_dependency": "tempest.flags",
    "coerce_flag": "tempest.flags",
    # admin site
    "AdminSite": "tempest.contrib.admin",
    "AdminModel": "tempest.contrib.admin",
    "AdminTheme": "tempest.contrib.admin",
    "AdminAuthBackend": "tempest.contrib.admin",
    "AdminAuthError": "tempest.contrib.admin",
    "UserModelAuthBackend": "tempest.contrib.admin",
    "make_admin_router": "tempest.contrib.admin",
    # server-sent events
    "EventStream": "tempest.sse",
    "ServerSentEvent": "tempest.sse",
    "sse_response": "tempest.sse",
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


_load = lazy_attributes(__name__, _LAZY_EXPORTS)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.api import (
        DEFAULT_STATIC_SECURITY_HEADERS as DEFAULT_STATIC_SECURITY_HEADERS,
        BodySizeLimitMiddleware as BodySizeLimitMiddleware,
        CSRFMiddleware as CSRFMiddleware,
        GracefulShutdownMiddleware as GracefulShutdownMiddleware,
        HardenedStaticFiles as HardenedStaticFiles,
        HealthCheck as HealthCheck,
        IdempotencyMiddleware as IdempotencyMiddleware,
        IdempotencyStore as IdempotencyStore,
        MemoryIdempotencyStore as MemoryIdempotencyStore,
        MemoryRateLimitStore as MemoryRateLimitStore,
        RateLimitMiddleware as RateLimitMiddleware,
        RateLimitResult as RateLimitResult,
        RateLimitStore as RateLimitStore,
        RedisIdempotencyStore as RedisIdempotencyStore,
        RedisRateLimitStore as RedisRateLimitStore,
        RequestIDMiddleware as RequestIDMiddleware,
        SameSite as SameSite,
        app_exception_handler as app_exception_handler,
        apply_cors as apply_cors,
        clear_cookie as clear_cookie,
        key_by_header as key_by_header,
        key_by_ip as key_by_ip,
        key_by_jwt_claim as key_by_jwt_claim,
        key_by_jwt_subject as key_by_jwt_subject,
        make_bearer_token_dependency as make_bearer_token_dependency,
        make_csrf_token_dependency as make_csrf_token_dependency,
        make_health_router as make_health_router,
        make_jwt_user_dependency as make_jwt_user_dependency,
        make_permission_dependency as make_permission_dependency,
        make_role_dependency as make_role_dependency,
        make_token_dependency as make_token_dependency,
        register_exception_handlers as register_exception_handlers,
        require_x_token as require_x_token,
        run_server as run_server,
        set_cookie as set_cookie,
    )
    from tempest.apps import AppConfig as AppConfig
    from tempest.cache import (
        AsyncRedisManager as AsyncRedisManager,
        CacheInvalidator as CacheInvalidator,
        cached as cached,
        cached_route as cached_route,
        namespace_registry_key as namespace_registry_key,
        tag_registry_key as tag_registry_key,
    )
    from tempest.conf import (
        AuthSettings as AuthSettings,
        BaseAppSettings as BaseAppSettings,
        CORSSettings as CORSSettings,
        DatabaseSettings as DatabaseSettings,
        EmailSettings as EmailSettings,
        ImproperlyConfigured as ImproperlyConfigured,
        JWTSettings as JWTSettings,
        LogSettings as LogSettings,
        MinIOSettings as MinIOSettings,
        RabbitMQSettings as RabbitMQSettings,
        RedisSettings as RedisSettings,
        ServerSettings as ServerSettings,
        Settings as Settings,
        TaskIQSettings as TaskIQSettings,
        TokenSettings as TokenSettings,
        UploadSettings as UploadSettings,
        WebPushSettings as WebPushSettings,
        override_settings as override_settings,
        settings as settings,
    )
    from tempest.contrib.admin import (
        AdminAuthBackend as AdminAuthBackend,
        AdminAuthError as AdminAuthError,
        AdminModel as AdminModel,
        AdminSite as AdminSite,
        AdminTheme as AdminTheme,
        UserModelAuthBackend as UserModelAuthBackend,
        make_admin_router as make_admin_router,
    )
    from tempest.contrib.auth.router import make_auth_router as make_auth_router
    from tempest.contrib.auth.schemas import (
        ActivationResendSchema as ActivationResendSchema,
        ActivationSchema as ActivationSchema,
        LoginSchema as LoginSchema,
        LogoutSchema as LogoutSchema,
        MFAChallengeResponseSchema as MFAChallengeResponseSchema,
        MFAConfirmSchema as MFAConfirmSchema,
        MFADisableSchema as MFADisableSchema,
        MFAEnrollResponseSchema as MFAEnrollResponseSchema,
        MFARecoveryCodesResponseSchema as MFARecoveryCodesResponseSchema,
        MFAVerifySchema as MFAVerifySchema,
        PasswordResetConfirmSchema as PasswordResetConfirmSchema,
        PasswordResetRequestSchema as PasswordResetRequestSchema,
        RefreshSchema as RefreshSchema,
        SignupSchema as SignupSchema,
        TokenPairResponseSchema as TokenPairResponseSchema,
    )
    from tempest.contrib.auth.service import UserAuthService as UserAuthService
    from tempest.controllers import BaseController as BaseController
    from tempest.core.checks import register_check as register_check
    from tempest.core.logging import (
        JSONFormatter as JSONFormatter,
        configure_logging as configure_logging,
    )
    from tempest.db import (
        BASE_COLUMN_ORDER as BASE_COLUMN_ORDER,
        NAMING_CONVENTION as NAMING_CONVENTION,
        AlembicHelper as AlembicHelper,
        AsyncDatabaseManager as AsyncDatabaseManager,
        AuditMixin as AuditMixin,
        BaseIdempotencyKeyModel as BaseIdempotencyKeyModel,
        BaseModel as BaseModel,
        BaseOutboxModel as BaseOutboxModel,
        BaseRepository as BaseRepository,
        DatabaseIdempotencyStore as DatabaseIdempotencyStore,
        DestructiveMigrationError as DestructiveMigrationError,
        MigrationError as MigrationError,
        OutboxRelay as OutboxRelay,
        OutboxStatus as OutboxStatus,
        SlowQueryLogger as SlowQueryLogger,
        SoftDeleteMixin as SoftDeleteMixin,
        TenantScopedRepository as TenantScopedRepository,
        atomic as atomic,
        compose_hooks as compose_hooks,
        reorder_base_columns_first as reorder_base_columns_first,
        transactional as transactional,
    )
    from tempest.exceptions import (
        AppException as AppException,
        ConflictException as ConflictException,
        ExpiredTokenException as ExpiredTokenException,
        FileTooLargeException as FileTooLargeException,
        ForbiddenException as ForbiddenException,
        InvalidFileTypeException as InvalidFileTypeException,
        InvalidTokenException as InvalidTokenException,
        NotFoundException as NotFoundException,
        ServiceUnavailableException as ServiceUnavailableException,
        TooManyRequestsException as TooManyRequestsException,
        UnauthorizedException as UnauthorizedException,
        ValidationException as ValidationException,
    )
    from tempest.flags import (
        CompositeFeatureFlagBackend as CompositeFeatureFlagBackend,
        EnvFeatureFlagBackend as EnvFeatureFlagBackend,
        FeatureFlagBackend as FeatureFlagBackend,
        FeatureFlags as FeatureFlags,
        MemoryFeatureFlagBackend as MemoryFeatureFlagBackend,
        RedisFeatureFlagBackend as RedisFeatureFlagBackend,
        coerce_flag as coerce_flag,
        make_flag_dependency as make_flag_dependency,
    )
    from tempest.mail import (
        EmailError as EmailError,
        EmailTemplateNotFound as EmailTemplateNotFound,
        EmailTemplates as EmailTemplates,
        EmailUtils as EmailUtils,
        RenderedEmail as RenderedEmail,
        negotiate_locale as negotiate_locale,
        normalize_locale as normalize_locale,
    )
    from tempest.schemas import (
        BasePaginationFilterSchema as BasePaginationFilterSchema,
        BasePaginationSchema as BasePaginationSchema,
        BaseResponseSchema as BaseResponseSchema,
        BaseSchema as BaseSchema,
        CursorPaginationFilterSchema as CursorPaginationFilterSchema,
        CursorPaginationSchema as CursorPaginationSchema,
        LogEntrySchema as LogEntrySchema,
        build_pagination_link_header as build_pagination_link_header,
        decode_cursor as decode_cursor,
        encode_cursor as encode_cursor,
    )
    from tempest.services import BaseService as BaseService
    from tempest.sse import (
        EventStream as EventStream,
        ServerSentEvent as ServerSentEvent,
        sse_response as sse_response,
    )
    from tempest.tasks import TaskSession as TaskSession, periodic as periodic, task as task
    from tempest.utils import (
        AttemptThrottle as AttemptThrottle,
        CPUMetrics as CPUMetrics,
        DiskMetrics as DiskMetrics,
        GPUMetrics as GPUMetrics,
        JWTUtils as JWTUtils,
        MemoryMetrics as MemoryMetrics,
        MemoryThrottleBackend as MemoryThrottleBackend,
        MetricsUtils as MetricsUtils,
        PasswordUtils as PasswordUtils,
        RedisThrottleBackend as RedisThrottleBackend,
        SystemMetrics as SystemMetrics,
        ThrottleBackend as ThrottleBackend,
        ThrottleResult as ThrottleResult,
        ThrottleStatus as ThrottleStatus,
        ThrottleUnavailableError as ThrottleUnavailableError,
        TOTPHelper as TOTPHelper,
        generate_opaque_token as generate_opaque_token,
        get_client_ip as get_client_ip,
        get_client_ip_from_scope as get_client_ip_from_scope,
        hash_opaque_token as hash_opaque_token,
        modify_dict as modify_dict,
        to_utc as to_utc,
        utcnow as utcnow,
        verify_opaque_token as verify_opaque_token,
    )
    from tempest.utils.context import (
        clear_request_id as clear_request_id,
        get_request_id as get_request_id,
        request_id_ctx as request_id_ctx,
        set_request_id as set_request_id,
    )
    from tempest.utils.enums import BaseIntEnum as BaseIntEnum, BaseStrEnum as BaseStrEnum
