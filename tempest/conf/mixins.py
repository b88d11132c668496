"""Settings groups, one mixin per concern, each with the spec's env var names.

Compose the ones a project needs into its settings class, in any order;
:class:`tempest.conf.Settings` already includes the server, log, database, CORS and
security groups. Every mixin is a :class:`BaseAppSettings`, so each carries the same
configuration (``.env``, case-sensitive names, unknown keys ignored, frozen).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Self

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tempest.conf.masking import (
    check_secret_settings,
    mask_setting,
    mask_validation_error,
    secret_setting_names,
)
from tempest.conf.networks import validate_networks
from tempest.conf.shared_state import check_shared_state_url

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BaseAppSettings(BaseSettings):
    """The configured pydantic-settings base.

    Reads ``.env`` (environment variables win), ignores unknown keys, is case sensitive,
    strips whitespace and is frozen: settings never change while the process runs.

    Secret settings never print: ``repr``/``str`` (and so ``print`` and logging) and
    validation errors show their values as ``'********'`` and URL passwords masked (see
    :mod:`tempest.conf.masking`). The attributes and ``model_dump()`` keep the real values.

    Attributes:
        secret_settings: Names of further settings to mask, for those whose name does not
            say they are secret (``STRIPE_KEY``). Added to those of the base classes.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        frozen=True,
        str_strip_whitespace=True,
        validate_default=True,
        # The mixins are never instantiated: build a validator only for a class that is.
        defer_build=True,
    )

    secret_settings: ClassVar[Collection[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        check_secret_settings(cls)

    def __repr_args__(self) -> Any:
        secret = secret_setting_names(type(self))
        for name, value in super().__repr_args__():
            yield name, value if name is None else mask_setting(name, value, secret)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signatures

        def __init__(self, *args: Any, **values: Any) -> None:
            try:
                super().__init__(*args, **values)
            except ValidationError as error:
                _raise_masked(type(self), error, values)

        @classmethod
        def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
            """Validate ``obj`` as pydantic does; an error shows no secret value."""
            try:
                return super().model_validate(obj, *args, **kwargs)
            except ValidationError as error:
                _raise_masked(cls, error, obj)


def _raise_masked(settings_class: type, error: ValidationError, data: Any) -> NoReturn:
    """Raise ``error``, or a copy without the secret values it would print.

    Caught around validation rather than in a model validator so that it also covers the
    ``model_validator(mode="after")`` a project adds, which would run outside it.
    """
    masked = mask_validation_error(error, data, secret_setting_names(settings_class))
    if masked is None:
        raise error
    raise masked from None


class ServerSettings(BaseAppSettings):
    """Where and how uvicorn serves the app."""

    SERVER_HOST: str = Field(default="127.0.0.1", description="Address to bind.")
    SERVER_PORT: int = Field(default=8000, ge=0, le=65535, description="Port to bind.")
    SERVER_RELOAD: bool = Field(default=False, description="Reload on code changes.")
    SERVER_DEBUG: bool = Field(default=False, description="Kept for compatibility; see DEBUG.")
    TRUSTED_PROXIES: list[str] = Field(
        default_factory=list,
        description="Networks (CIDRs) of the reverse proxies whose Forwarded and "
        "X-Forwarded-For headers name the client; empty: the socket peer is the client.",
    )

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        return validate_networks(value)

    SITE_URL: str = Field(
        default="",
        description="Public URL of the app's root, e.g. 'https://shop.example.com', for links "
        "that leave the request (emails); empty: http://SERVER_HOST:SERVER_PORT in DEBUG.",
    )
    ALLOWED_HOSTS: list[str] = Field(
        default_factory=list,
        description="Host names the app answers; others get 400. '.example.com' adds its "
        "subdomains, '*' any host; empty: localhost only in DEBUG, none otherwise.",
    )
    MAX_REQUEST_BODY_SIZE: int | None = Field(
        default=2_621_440,
        ge=0,
        description="Largest request body in bytes (2.5 MiB, as Django); larger ones get "
        "413 before they are read. A route's max_body_size overrides it; None: no limit.",
    )
    API_ERRORS_INCLUDE_INPUT: bool = Field(
        default=True,
        description="Echo the submitted value in each 422 error's 'input' (never the value "
        "of a secret field: SecretStr, or named like password/token/secret/code/key).",
    )

    @field_validator("SITE_URL")
    @classmethod
    def _absolute_site_url(cls, value: str) -> str:
        if not value:
            return value
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"must be an absolute http(s) URL like https://shop.example.com, not {value!r}"
            )
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("must be the site's root URL, without credentials, query or fragment")
        return value.rstrip("/")

    @field_validator("ALLOWED_HOSTS")
    @classmethod
    def _host_patterns(cls, value: list[str]) -> list[str]:
        hosts = []
        for entry in value:
            host = entry.strip().lower()
            bare = host.removeprefix("*.").removeprefix(".")
            if host != "*" and (not bare or "*" in bare or "/" in bare or _has_port(bare)):
                raise ValueError(
                    f"{entry!r} is not a host pattern: write a host name without scheme or "
                    "port ('shop.example.com', '[::1]'), '.example.com' for a domain and its "
                    "subdomains, or '*'"
                )
            hosts.append(host)
        return hosts


def _has_port(host: str) -> bool:
    if host.startswith("["):
        return not host.endswith("]")
    return ":" in host


class LogSettings(BaseAppSettings):
    """Logging level, format and per-level files."""

    LOG_LEVEL: str = Field(
        default="INFO", description="Root log level: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    LOG_JSON: bool = Field(default=False, description="One JSON object per log line.")
    LOG_DIR: str = Field(default="", description="Directory for per-level log files; empty: none.")

    @field_validator("LOG_LEVEL")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(_LOG_LEVELS)}")
        return level


class DatabaseSettings(BaseAppSettings):
    """The project database."""

    DATABASE_URL: str = Field(
        default="sqlite+aiosqlite:///./db.sqlite3",
        description="SQLAlchemy async URL (sqlite+aiosqlite:// or postgresql+asyncpg://).",
    )
    DATABASE_ECHO: bool = Field(default=False, description="Log every SQL statement.")
    DATABASE_POOL_SIZE: int = Field(default=10, ge=1)
    DATABASE_MAX_OVERFLOW: int = Field(default=20, ge=0)
    DATABASE_POOL_RECYCLE: int = Field(default=3600, ge=-1)
    DATABASE_UNAVAILABLE_TIMEOUT: float = Field(
        default=2.0,
        gt=0,
        description="Seconds a request waits for a pooled connection, and for a new one, "
        "before a database outage answers 503 (docs/topics/outages.md).",
    )
    DATABASE_RETRY_AFTER: int = Field(default=5, ge=0, description="Retry-After of that 503.")
    DATABASE_MAX_PAGE_SIZE: int = Field(
        default=100, ge=1, description="Largest page_size a repository accepts."
    )
    DATABASE_ESTIMATE_COUNT_ABOVE: int = Field(
        default=100_000,
        ge=0,
        description="On PostgreSQL, unfiltered totals above this many rows come from the "
        "planner's estimate instead of COUNT(*); 0 turns estimates off.",
    )


class CORSSettings(BaseAppSettings):
    """Cross-origin resource sharing. No origins: the CORS middleware is skipped."""

    CORS_ORIGINS: list[str] = Field(default_factory=list)
    CORS_ALLOW_CREDENTIALS: bool = False
    CORS_ALLOW_METHODS: list[str] = Field(default_factory=lambda: ["*"])
    CORS_ALLOW_HEADERS: list[str] = Field(default_factory=lambda: ["*"])
    CORS_EXPOSE_HEADERS: list[str] = Field(default_factory=lambda: ["X-Request-ID"])
    CORS_MAX_AGE: int = Field(default=600, ge=0)


class RedisSettings(BaseAppSettings):
    """Redis for the cache, shared rate limits and throttles."""

    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    REDIS_DECODE_RESPONSES: bool = True


class RabbitMQSettings(BaseAppSettings):
    """RabbitMQ for FastStream queues."""

    RABBITMQ_URL: str = "amqp://guest:guest@127.0.0.1:5672/"
    RABBITMQ_PREFETCH_COUNT: int = Field(default=10, ge=1)


class TaskIQSettings(BaseAppSettings):
    """The TaskIQ broker and its optional result backend."""

    TASKIQ_BROKER_URL: str = Field(
        default="memory://",
        description="memory:// (in-process), amqp://... (RabbitMQ) or redis://... (Redis).",
    )
    TASKIQ_RESULT_BACKEND_URL: str | None = None
    TASKIQ_QUEUE_NAME: str | None = Field(
        default=None, description="The RabbitMQ queue or Redis stream tasks go to."
    )
    SCHEDULER_LOCK_URL: str | None = Field(
        default=None,
        description=(
            "Where manage.py scheduler holds its lease (redis:// or postgresql://); unset: "
            "TASKIQ_BROKER_URL if Redis, else REDIS_URL, else DATABASE_URL if PostgreSQL."
        ),
    )
    SCHEDULER_LEASE_SECONDS: float = Field(
        default=10.0,
        ge=1,
        description="How long a dead scheduler's lease lasts before a standby takes over.",
    )


class JWTSettings(BaseAppSettings):
    """Signing and lifetimes of JSON Web Tokens."""

    JWT_SECRET: str = ""
    JWT_ALGORITHM: str = "HS256"
    JWT_ACCESS_TTL_SECONDS: int = Field(default=900, ge=1)
    JWT_REFRESH_TTL_SECONDS: int = Field(default=1_209_600, ge=1)
    JWT_ISSUER: str | None = None


class EmailSettings(BaseAppSettings):
    """Outgoing mail: the backend, and the SMTP server it uses."""

    EMAIL_BACKEND: str = Field(
        default="",
        description="Where email goes: smtp, console (printed), memory (tempest.mail.outbox) "
        "or a dotted class path; empty: console in DEBUG, smtp otherwise.",
    )
    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_FROM_ADDR: str = "noreply@example.com"
    SMTP_USE_TLS: bool = True
    SMTP_USE_SSL: bool = False
    SMTP_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)

    @field_validator("EMAIL_BACKEND")
    @classmethod
    def _known_email_backend(cls, value: str) -> str:
        value = value.strip()
        if value and value.lower() in ("smtp", "console", "memory"):
            return value.lower()
        if value and "." not in value:
            raise ValueError(
                f"{value!r} is not an email backend: use smtp, console, memory or the dotted "
                "path of a class, e.g. shop.mail.Backend"
            )
        return value


class UploadSettings(BaseAppSettings):
    """Limits and destination of uploaded files."""

    UPLOAD_DIR: str = "./var/uploads"
    UPLOAD_MAX_SIZE_BYTES: int = Field(default=10 * 1024 * 1024, ge=1)
    UPLOAD_ALLOWED_EXTENSIONS: list[str] = Field(default_factory=list)
    UPLOAD_ALLOWED_MIMETYPES: list[str] = Field(default_factory=list)
    UPLOAD_URL: str = ""  # public URL prefix of the stored files (StoredFile.url)
    UPLOAD_STORAGE: str = "auto"  # where file columns store files: auto, local or s3

    @field_validator("UPLOAD_STORAGE")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if value.strip().lower() not in ("auto", "local", "s3"):
            raise ValueError(f"{value!r} is not a storage: use auto, local or s3")
        return value.strip().lower()


class TokenSettings(BaseAppSettings):
    """Shared secret for the ``X-Token`` dependency; empty disables it."""

    TOKEN_SECRET: str = ""


class WebPushSettings(BaseAppSettings):
    """VAPID keys for Web Push (``python manage.py webpush keys`` prints a pair)."""

    VAPID_PUBLIC_KEY: str = ""
    VAPID_PRIVATE_KEY: str = ""
    VAPID_SUBJECT: str = "mailto:admin@example.com"
    # Never 0: a push service drops a TTL-0 message unless the device is online right now.
    WEBPUSH_DEFAULT_TTL_SECONDS: int = Field(default=86_400, ge=1)


class MinIOSettings(BaseAppSettings):
    """MinIO / S3 object storage."""

    MINIO_ENDPOINT: str = "127.0.0.1:9000"
    MINIO_ACCESS_KEY: str = ""
    MINIO_SECRET_KEY: str = ""
    MINIO_BUCKET: str = Field(
        default="",
        # The spec's name too; MINIO_BUCKET wins when both are set.
        validation_alias=AliasChoices("MINIO_BUCKET", "MINIO_DEFAULT_BUCKET"),
    )
    MINIO_SECURE: bool = False
    MINIO_REGION: str | None = None

    @property
    def MINIO_DEFAULT_BUCKET(self) -> str:
        """The spec's name of :attr:`MINIO_BUCKET` (the same value)."""
        return self.MINIO_BUCKET


class AuthSettings(BaseAppSettings):
    """The bundled auth flow."""

    AUTH_DEFAULT_LOCALE: str = "en-US"
    AUTH_REQUIRE_ACTIVATION: bool = True
    AUTH_ACTIVATION_TTL_SECONDS: int = Field(default=86_400, ge=1)
    AUTH_PASSWORD_RESET_TTL_SECONDS: int = Field(default=3_600, ge=1)
    AUTH_MAX_LOGIN_ATTEMPTS: int = Field(default=5, ge=1)
    AUTH_LOCKOUT_SECONDS: int = Field(default=900, ge=1)
    AUTH_MAX_ATTEMPTS_PER_CLIENT: int = Field(
        default=20,
        ge=1,
        description="Sign-in attempts one client (IP address) may make per "
        "AUTH_LOCKOUT_SECONDS, whatever the accounts; a success gives its attempt back.",
    )
    AUTH_THROTTLE_URL: str | None = Field(
        default=None,
        description="Where sign-in attempts are counted: a redis:// URL shared by every "
        "process, or 'memory://' (this process); unset: REDIS_URL when set, else memory.",
    )

    @field_validator("AUTH_THROTTLE_URL")
    @classmethod
    def _throttle_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)

    AUTH_FRONTEND_URL: str = ""
    AUTH_REVOKE_ACCESS_TOKENS: bool = Field(
        default=True,
        description=(
            "Refuse access tokens issued before a password change, a deactivation or a "
            "sign-out everywhere (their 'sv' claim); free where the user row is loaded."
        ),
    )
    AUTH_USER_MODEL: str = Field(
        default="auth.User",
        description="The user model, as '<app label>.<class name>' (e.g. 'accounts.User').",
    )
    AUTH_PASSWORD_HASH_ROUNDS: int = Field(
        default=12, ge=4, le=31, description="bcrypt cost of new password hashes."
    )
    AUTH_PASSWORD_MIN_LENGTH: int = Field(default=8, ge=1)
    AUTH_PASSWORD_VALIDATORS: list[dict[str, Any]] = Field(
        default_factory=lambda: [
            {"NAME": f"tempest.contrib.auth.password_validation.{name}"}
            for name in (
                "UserAttributeSimilarityValidator",
                "MinimumLengthValidator",
                "CommonPasswordValidator",
                "NumericPasswordValidator",
            )
        ],
        description=(
            "Rules every new password must pass, as in Django: a list of "
            '{"NAME": dotted path, "OPTIONS": {...}}.'
        ),
    )
    AUTH_REAUTH_SECONDS: int = Field(
        default=300,
        ge=0,
        description=(
            "A sign-in this recent counts as re-authentication for MFA, email and password "
            "changes; older tokens must send the password (0: always)."
        ),
    )
    AUTH_SIGNUP_REVEAL_EXISTING: bool = Field(
        default=False,
        description="Answer signup for a taken email with 409 EMAIL_TAKEN instead of 202.",
    )
    AUTH_EMAIL_CHANGE_TTL_SECONDS: int = Field(
        default=86_400, ge=1, description="Lifetime of an email-change confirmation link."
    )


class IdempotencySettings(BaseAppSettings):
    """Idempotency keys (``tempest.api.middleware.IdempotencyMiddleware``)."""

    IDEMPOTENCY_URL: str | None = Field(
        default=None,
        description="Where idempotency keys live: a redis:// URL, 'database://' (the "
        "project's database, recorded with each request's writes: needs the "
        "tempest.contrib.idempotency app) or 'memory://' (this process); unset: REDIS_URL "
        "when set, else memory.",
    )

    @field_validator("IDEMPOTENCY_URL")
    @classmethod
    def _idempotency_scheme(cls, value: str | None) -> str | None:
        if value == "database://":
            return value
        try:
            return check_shared_state_url(value)
        except ValueError:
            raise ValueError(
                f"must be 'memory://', 'database://' or a redis:// URL, got {value!r}"
            ) from None

    IDEMPOTENCY_TTL_SECONDS: int = Field(
        default=86_400, ge=1, description="How long a finished answer is replayed (one day)."
    )
    IDEMPOTENCY_LEASE_SECONDS: float = Field(
        default=60.0,
        gt=0,
        description="How long a running request holds its key; a request killed mid-way "
        "frees it after this. Longer than the slowest request.",
    )
    IDEMPOTENCY_METHODS: list[str] = Field(
        default_factory=lambda: ["POST", "PATCH"],
        description="Methods whose requests honour the Idempotency-Key header.",
    )
    IDEMPOTENCY_FAIL_OPEN: bool = Field(
        default=False,
        description="When the store is unreachable, run requests without idempotency "
        "(logged) instead of answering 503.",
    )


class CSRFSettings(BaseAppSettings):
    """CSRF protection of cookie-authenticated APIs (``tempest.api.middleware.CSRFMiddleware``)."""

    CSRF_COOKIE_NAME: str = Field(default="csrftoken", description="Cookie of the signed token.")
    CSRF_HEADER_NAME: str = Field(
        default="X-CSRF-Token", description="Request header that must repeat the token."
    )
    CSRF_SESSION_COOKIE_NAME: str | None = Field(
        default=None,
        description="Cookie that authenticates users: only requests carrying it are checked, "
        "and tokens are bound to its value; unset: every unsafe request is checked.",
    )
    CSRF_COOKIE_SECURE: bool | None = Field(
        default=None, description="Send the CSRF cookie over HTTPS only; default: yes unless DEBUG."
    )
    CSRF_COOKIE_SAMESITE: str = Field(
        default="lax", description="SameSite attribute of the CSRF cookie: lax, strict or none."
    )
    CSRF_COOKIE_DOMAIN: str | None = Field(
        default=None, description="Domain attribute of the CSRF cookie; unset: this host only."
    )
    CSRF_TRUSTED_ORIGINS: list[str] = Field(
        default_factory=list,
        description="Origins (https://app.example.com) allowed besides this host in the "
        "Origin and Referer headers.",
    )
    CSRF_EXEMPT_PATHS: list[str] = Field(
        default_factory=list,
        description="Paths never checked, each with the paths under it (webhooks...); "
        "the admin is always exempt.",
    )

    @field_validator("CSRF_COOKIE_SAMESITE")
    @classmethod
    def _check_same_site(cls, value: str) -> str:
        if value.lower() not in ("lax", "strict", "none"):
            raise ValueError(f"CSRF_COOKIE_SAMESITE must be lax, strict or none, got {value!r}")
        return value.lower()


class AdminSettings(BaseAppSettings):
    """The admin site (``tempest.contrib.admin``)."""

    ADMIN_SECRET_KEY: str = Field(
        default="",
        description="Signs the admin's session cookie (at least 32 bytes); empty: SECRET_KEY.",
    )
    ADMIN_COOKIE_SECURE: bool | None = Field(
        default=None,
        description="Send the admin's cookie over HTTPS only; default: yes unless DEBUG.",
    )
    ADMIN_SHOW_METRICS: bool = Field(
        default=True, description="Show CPU, memory and disk on the dashboard (needs psutil)."
    )
    ADMIN_REVOKED_SESSIONS_URL: str | None = Field(
        default=None,
        description=(
            "Where signed-out admin sessions are remembered until their cookie expires: a "
            "redis:// URL or 'memory://' (this process); unset: REDIS_URL when set, else memory."
        ),
    )

    @field_validator("ADMIN_REVOKED_SESSIONS_URL")
    @classmethod
    def _revoked_sessions_scheme(cls, value: str | None) -> str | None:
        return check_shared_state_url(value)


class GracefulShutdownSettings(BaseAppSettings):
    """Stopping a server process without dropping requests (``GracefulShutdownMiddleware``)."""

    GRACEFUL_SHUTDOWN_TIMEOUT: int = Field(
        default=25,
        ge=0,
        description="Seconds the requests in flight may take to finish once the server stops "
        "listening; later ones are cancelled (uvicorn's --timeout-graceful-shutdown).",
    )
    GRACEFUL_SHUTDOWN_DRAIN_SECONDS: float = Field(
        default=5.0,
        ge=0,
        description="With GracefulShutdownMiddleware: seconds between SIGTERM and the end of "
        "listening, while readiness and new requests answer 503.",
    )


class StaticFilesSettings(BaseAppSettings):
    """Static files: the apps' ``static/`` folders and ``collectstatic``'s output."""

    STATIC_URL: str = Field(
        default="/static/",
        description="URL path under which static files are served, e.g. '/static/'.",
    )
    STATIC_ROOT: str = Field(
        default="",
        description="Folder that collectstatic fills and serve serves at STATIC_URL; empty: "
        "serve serves no static files (a web server or CDN does).",
    )

    @field_validator("STATIC_URL")
    @classmethod
    def _static_url(cls, value: str) -> str:
        if not value.startswith("/") or value.strip("/") == "" or "//" in value:
            raise ValueError(
                f"{value!r} is not a URL path with at least one segment: use e.g. '/static/'"
            )
        return value if value.endswith("/") else value + "/"
