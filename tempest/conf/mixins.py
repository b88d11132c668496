"""Settings groups, one mixin per concern, each with the spec's env var names.

Compose the ones a project needs into its settings class, in any order;
:class:`tempest.conf.Settings` already includes the server, log, database, CORS and
security groups. Every mixin is a :class:`BaseAppSettings`, so each carries the same
configuration (``.env``, case-sensitive names, unknown keys ignored, frozen).
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BaseAppSettings(BaseSettings):
    """The configured pydantic-settings base.

    Reads ``.env`` (environment variables win), ignores unknown keys, is case sensitive,
    strips whitespace and is frozen: settings never change while the process runs.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=True,
        frozen=True,
        str_strip_whitespace=True,
        validate_default=True,
    )


class ServerSettings(BaseAppSettings):
    """Where and how uvicorn serves the app."""

    SERVER_HOST: str = Field(default="127.0.0.1", description="Address to bind.")
    SERVER_PORT: int = Field(default=8000, ge=0, le=65535, description="Port to bind.")
    SERVER_RELOAD: bool = Field(default=False, description="Reload on code changes.")
    SERVER_DEBUG: bool = Field(default=False, description="Kept for compatibility; see DEBUG.")


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


class JWTSettings(BaseAppSettings):
    """Signing and lifetimes of JSON Web Tokens."""

    JWT_SECRET: str = ""
    JWT_ALGORITHM: str = "HS256"
    JWT_ACCESS_TTL_SECONDS: int = Field(default=900, ge=1)
    JWT_REFRESH_TTL_SECONDS: int = Field(default=1_209_600, ge=1)
    JWT_ISSUER: str | None = None


class EmailSettings(BaseAppSettings):
    """Outgoing SMTP mail."""

    SMTP_HOST: str = "localhost"
    SMTP_PORT: int = Field(default=587, ge=1, le=65535)
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = None
    SMTP_FROM_ADDR: str = "noreply@example.com"
    SMTP_USE_TLS: bool = True
    SMTP_USE_SSL: bool = False
    SMTP_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)


class UploadSettings(BaseAppSettings):
    """Limits and destination of uploaded files."""

    UPLOAD_DIR: str = "./var/uploads"
    UPLOAD_MAX_SIZE_BYTES: int = Field(default=10 * 1024 * 1024, ge=1)
    UPLOAD_ALLOWED_EXTENSIONS: list[str] = Field(default_factory=list)
    UPLOAD_ALLOWED_MIMETYPES: list[str] = Field(default_factory=list)


class TokenSettings(BaseAppSettings):
    """Shared secret for the ``X-Token`` dependency; empty disables it."""

    TOKEN_SECRET: str = ""


class WebPushSettings(BaseAppSettings):
    """VAPID keys for Web Push."""

    VAPID_PUBLIC_KEY: str = ""
    VAPID_PRIVATE_KEY: str = ""
    VAPID_SUBJECT: str = "mailto:admin@example.com"
    WEBPUSH_DEFAULT_TTL_SECONDS: int = Field(default=86_400, ge=0)


class MinIOSettings(BaseAppSettings):
    """MinIO / S3 object storage."""

    MINIO_ENDPOINT: str = "127.0.0.1:9000"
    MINIO_ACCESS_KEY: str = ""
    MINIO_SECRET_KEY: str = ""
    MINIO_BUCKET: str = ""
    MINIO_SECURE: bool = False
    MINIO_REGION: str | None = None


class AuthSettings(BaseAppSettings):
    """The bundled auth flow."""

    AUTH_DEFAULT_LOCALE: str = "en-US"
    AUTH_REQUIRE_ACTIVATION: bool = True
    AUTH_ACTIVATION_TTL_SECONDS: int = Field(default=86_400, ge=1)
    AUTH_PASSWORD_RESET_TTL_SECONDS: int = Field(default=3_600, ge=1)
    AUTH_MAX_LOGIN_ATTEMPTS: int = Field(default=5, ge=1)
    AUTH_LOCKOUT_SECONDS: int = Field(default=900, ge=1)
    AUTH_FRONTEND_URL: str = ""
    AUTH_USER_MODEL: str = Field(
        default="auth.User",
        description="The user model, as '<app label>.<class name>' (e.g. 'accounts.User').",
    )
    AUTH_PASSWORD_HASH_ROUNDS: int = Field(
        default=12, ge=4, le=31, description="bcrypt cost of new password hashes."
    )
    AUTH_PASSWORD_MIN_LENGTH: int = Field(default=8, ge=1)


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
