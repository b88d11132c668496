"""The spec's "What's inside" table (tempest-fastapi-sdk 0.72.0 README): every name, by module.

Each name must import from its module with the three module moves applied (see
tests/spec_recipes.py), except the names tempest keeps elsewhere (:data:`ELSEWHERE`, each
with the module to import it from; docs/topics/coming-from-sdk.md lists them) and the
names tempest does not have (:data:`MISSING`, checked to be still missing so that the
list, and the page, are updated when one lands).
"""

from __future__ import annotations

import importlib

import pytest

from tests.spec_recipes import apply_moves

# SDK module -> its names, space-separated.
TABLE: dict[str, str] = {
    "tempest_fastapi_sdk.schemas": (
        "BaseSchema BaseResponseSchema BasePaginationFilterSchema BasePaginationSchema "
        "CursorPaginationFilterSchema CursorPaginationSchema LogEntrySchema encode_cursor "
        "decode_cursor build_pagination_link_header"
    ),
    "tempest_fastapi_sdk.db": (
        "BaseModel BaseUserModel BaseUserTokenModel BaseUserRecoveryCodeModel "
        "make_user_recovery_code_model UserTokenPurpose BaseRepository TenantScopedRepository "
        "AsyncDatabaseManager AlembicHelper DestructiveMigrationError NAMING_CONVENTION "
        "AuditMixin SoftDeleteMixin MFAMixin BASE_COLUMN_ORDER reorder_base_columns_first "
        "compose_hooks SlowQueryLogger BaseOutboxModel OutboxRelay OutboxStatus "
        "BaseAuditLogModel AuditAction snapshot_model diff_snapshots"
    ),
    "tempest_fastapi_sdk.exceptions": (
        "AppException NotFoundException ConflictException ValidationException "
        "UnauthorizedException ForbiddenException InvalidTokenException ExpiredTokenException "
        "FileTooLargeException InvalidFileTypeException TooManyRequestsException MessageCatalog "
        "default_message_catalog parse_accept_language DEFAULT_LOCALE"
    ),
    "tempest_fastapi_sdk.settings": (
        "BaseAppSettings ServerSettings LogSettings DatabaseSettings RedisSettings "
        "RabbitMQSettings JWTSettings CORSSettings EmailSettings UploadSettings TokenSettings "
        "WebPushSettings TaskIQSettings MinIOSettings AuthSettings"
    ),
    "tempest_fastapi_sdk.api": (
        "register_exception_handlers app_exception_handler apply_cors make_health_router "
        "make_logs_router make_prometheus_router make_prometheus_registry PrometheusMiddleware "
        "LogSource make_tool_spec_router make_token_dependency make_bearer_token_dependency "
        "make_jwt_user_dependency make_role_dependency make_permission_dependency "
        "require_x_token run_server RequestIDMiddleware RateLimitMiddleware RateLimitStore "
        "MemoryRateLimitStore RedisRateLimitStore RateLimitResult key_by_ip key_by_jwt_subject "
        "key_by_jwt_claim key_by_header IdempotencyMiddleware MemoryIdempotencyStore "
        "RedisIdempotencyStore BodySizeLimitMiddleware CSRFMiddleware "
        "make_csrf_token_dependency GracefulShutdownMiddleware WebhookSignatureVerifier "
        "RSAWebhookSignatureVerifier GoogleOAuthClient GitHubOAuthClient OIDCProvider "
        "HardenedStaticFiles DEFAULT_STATIC_SECURITY_HEADERS set_cookie clear_cookie SameSite "
        "HealthCheck setup_tracing"
    ),
    "tempest_fastapi_sdk.auth": (
        "UserAuthService make_auth_router SignupSchema LoginSchema RefreshSchema "
        "PasswordResetRequestSchema PasswordResetConfirmSchema ActivationToken "
        "PasswordResetToken MFAEnrollResponseSchema MFAConfirmSchema MFAVerifySchema "
        "MFADisableSchema BaseUserRefreshTokenModel make_user_refresh_token_model LogoutSchema "
        "normalize_locale negotiate_locale"
    ),
    "tempest_fastapi_sdk.controllers": "BaseController",
    "tempest_fastapi_sdk.services": "BaseService",
    "tempest_fastapi_sdk.core": (
        "configure_logging JSONFormatter get_request_id set_request_id clear_request_id "
        "request_id_ctx BaseStrEnum BaseIntEnum"
    ),
    "tempest_fastapi_sdk.admin": (
        "AdminSite AdminModel make_admin_router AdminAuthBackend UserModelAuthBackend "
        "AdminAuthError"
    ),
    "tempest_fastapi_sdk.sse": "EventStream ServerSentEvent sse_response",
    "tempest_fastapi_sdk.cache": (
        "AsyncRedisManager cached CacheInvalidator namespace_registry_key tag_registry_key"
    ),
    "tempest_fastapi_sdk.flags": (
        "FeatureFlags FeatureFlagBackend MemoryFeatureFlagBackend EnvFeatureFlagBackend "
        "RedisFeatureFlagBackend CompositeFeatureFlagBackend make_flag_dependency coerce_flag"
    ),
    "tempest_fastapi_sdk.webpush": (
        "WebPushDispatcher WebPushError WebPushGoneError WebPushSubscriptionSchema "
        "WebPushKeysSchema WebPushPayloadSchema"
    ),
    "tempest_fastapi_sdk.queue": "AsyncBrokerManager",
    "tempest_fastapi_sdk.storage": "AsyncMinIOClient ObjectStat",
    "tempest_fastapi_sdk.utils.http_client": (
        "HTTPClient RetryPolicy CircuitOpenError REQUEST_ID_HEADER"
    ),
    "tempest_fastapi_sdk.utils.storage_backends": (
        "UploadStorage LocalUploadStorage MinIOUploadStorage UploadResult ContentValidator"
    ),
    "tempest_fastapi_sdk.tasks": "AsyncTaskBrokerManager AsyncTaskScheduler",
    "tempest_fastapi_sdk.utils": (
        "to_utc utcnow modify_dict LogUtils AttemptThrottle ThrottleBackend ThrottleStatus "
        "generate_opaque_token hash_opaque_token verify_opaque_token get_client_ip "
        "get_client_ip_from_scope PasswordUtils JWTUtils TOTPHelper EmailUtils UploadUtils "
        "sniff_mime DownloadUtils build_content_disposition MetricsUtils CPUMetrics "
        "MemoryMetrics DiskMetrics GPUMetrics SystemMetrics CPF CNPJ CPFOrCNPJ PhoneBR CEP "
        "only_digits UF Region StateBR CityBR UFField CityNameField list_states get_state "
        "cities_by_uf states_by_region is_valid_uf normalize_uf is_valid_city normalize_city"
    ),
}

# Methods the table lists next to the names: (class's module, class, method).
METHODS = (
    ("tempest.db", "BaseRepository", "save_with_outbox"),
    ("tempest.db", "BaseRepository", "add_audited"),
    ("tempest.db", "BaseRepository", "update_audited"),
    ("tempest.db", "BaseRepository", "delete_audited"),
    ("tempest.db", "AlembicHelper", "safe_upgrade"),
)

# Names tempest keeps in another module (layers: the data layer cannot import the auth
# app, nor the web layer the project layer): SDK module -> name -> where to import it.
ELSEWHERE: dict[str, dict[str, str]] = {
    "tempest_fastapi_sdk.db": {
        "BaseUserModel": "tempest.contrib.auth.base",
        "BaseUserTokenModel": "tempest.contrib.auth.base",
        "BaseUserRecoveryCodeModel": "tempest.contrib.auth.base",
        "make_user_recovery_code_model": "tempest.contrib.auth.base",
        "UserTokenPurpose": "tempest.contrib.auth.base",
        "MFAMixin": "tempest.contrib.auth.base",
    },
    "tempest_fastapi_sdk.api": {
        "GoogleOAuthClient": "tempest.contrib.auth",
        "GitHubOAuthClient": "tempest.contrib.auth",
        "OIDCProvider": "tempest.contrib.auth",
        "setup_tracing": "tempest",
    },
    "tempest_fastapi_sdk.auth": {
        "SignupSchema": "tempest.contrib.auth.schemas",
        "LoginSchema": "tempest.contrib.auth.schemas",
        "RefreshSchema": "tempest.contrib.auth.schemas",
        "PasswordResetRequestSchema": "tempest.contrib.auth.schemas",
        "PasswordResetConfirmSchema": "tempest.contrib.auth.schemas",
        "MFAEnrollResponseSchema": "tempest.contrib.auth.schemas",
        "MFAConfirmSchema": "tempest.contrib.auth.schemas",
        "MFAVerifySchema": "tempest.contrib.auth.schemas",
        "MFADisableSchema": "tempest.contrib.auth.schemas",
        "LogoutSchema": "tempest.contrib.auth.schemas",
        "BaseUserRefreshTokenModel": "tempest.contrib.auth.base",
        "make_user_refresh_token_model": "tempest.contrib.auth.base",
        "normalize_locale": "tempest",
        "negotiate_locale": "tempest",
    },
}

# Names tempest does not have.
MISSING: dict[str, set[str]] = {
    "tempest_fastapi_sdk.auth": {"ActivationToken", "PasswordResetToken"},
}


def _rows() -> list[tuple[str, str]]:
    return [(module, name) for module, names in TABLE.items() for name in names.split()]


@pytest.mark.parametrize(("module", "name"), _rows())
def test_the_spec_table_name_imports(module: str, name: str) -> None:
    moved = apply_moves(module)
    if name in MISSING.get(module, set()):
        assert not hasattr(importlib.import_module(moved), name), (
            f"{name} has landed: take it out of MISSING and docs/topics/coming-from-sdk.md"
        )
        pytest.skip(f"{module}.{name}: not in tempest (docs/topics/coming-from-sdk.md)")
    where = ELSEWHERE.get(module, {}).get(name, moved)
    assert hasattr(importlib.import_module(where), name), f"{name} is not in {where}"


@pytest.mark.parametrize(("module", "cls", "method"), METHODS)
def test_the_spec_table_methods_exist(module: str, cls: str, method: str) -> None:
    assert callable(getattr(getattr(importlib.import_module(module), cls), method))


def test_the_names_kept_elsewhere_are_not_in_the_moved_module() -> None:
    """ELSEWHERE stays true: a name that lands in the SDK's module is taken out of it."""
    for module, names in ELSEWHERE.items():
        moved = importlib.import_module(apply_moves(module))
        landed = [name for name in names if hasattr(moved, name)]
        assert not landed, f"{landed} now import from {apply_moves(module)}: update ELSEWHERE"
