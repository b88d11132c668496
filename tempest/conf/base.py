"""The framework's settings base class."""

from __future__ import annotations

from pydantic import Field

from tempest.conf.cache import CacheSettings
from tempest.conf.flags import FeatureFlagSettings
from tempest.conf.http_client import HTTPClientSettings
from tempest.conf.locale import LocaleSettings
from tempest.conf.metrics import MetricsSettings
from tempest.conf.mixins import (
    AdminSettings,
    AuthSettings,
    BaseAppSettings,
    CORSSettings,
    CSRFSettings,
    DatabaseSettings,
    EmailSettings,
    GracefulShutdownSettings,
    IdempotencySettings,
    JWTSettings,
    LogSettings,
    RabbitMQSettings,
    ServerSettings,
    StaticFilesSettings,
    TaskIQSettings,
    TokenSettings,
    WebPushSettings,
)
from tempest.conf.oauth import OAuthSettings
from tempest.conf.rate_limit import RateLimitSettings
from tempest.conf.rotation import SecretRotationSettings
from tempest.conf.sse import SSESettings
from tempest.conf.tracing import TracingSettings
from tempest.conf.webhooks import WebhookSettings

DEFAULT_MIDDLEWARE: tuple[str, ...] = (
    "tempest.api.middleware.RequestIDMiddleware",
    "tempest.api.middleware.CORSMiddleware",
)


class Settings(
    ServerSettings,
    LogSettings,
    DatabaseSettings,
    CORSSettings,
    JWTSettings,
    SecretRotationSettings,
    AuthSettings,
    OAuthSettings,
    EmailSettings,
    TokenSettings,
    AdminSettings,
    CSRFSettings,
    IdempotencySettings,
    RateLimitSettings,
    CacheSettings,
    MetricsSettings,
    TracingSettings,
    FeatureFlagSettings,
    HTTPClientSettings,
    LocaleSettings,
    SSESettings,
    WebhookSettings,
    WebPushSettings,
    GracefulShutdownSettings,
    StaticFilesSettings,
    TaskIQSettings,
    RabbitMQSettings,
    BaseAppSettings,
):
    """Base class of a project's settings.

    A project subclasses it in ``<project>/settings.py`` and creates one instance named
    ``settings``. Every field can be set in ``.env`` or the environment, which wins.
    """

    DEBUG: bool = Field(
        default=False, description="Debug mode: detailed errors. Never in production."
    )
    SECRET_KEY: str = Field(default="", description="Secret for signing; long and random.")
    TITLE: str = Field(default="tempest", description="API title shown in the OpenAPI docs.")
    VERSION: str = Field(default="0.1.0", description="API version shown in the OpenAPI docs.")
    DESCRIPTION: str = Field(default="", description="API description for the OpenAPI docs.")
    INSTALLED_APPS: list[str] = Field(default_factory=list, description="Dotted app packages.")
    MIDDLEWARE: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MIDDLEWARE),
        description="Dotted paths of ASGI middleware classes, outermost first.",
    )
    SILENCED_SYSTEM_CHECKS: list[str] = Field(default_factory=list)
    REDIS_URL: str | None = Field(
        default=None,
        description="The project's Redis: state shared by every process (throttles, rate "
        "limits, idempotency keys...) lives there; unset: in each process's memory.",
    )
    ASGI_APPLICATION: str = Field(
        default="",
        description="'module:attribute' of the ASGI app; default '<project>.asgi:application'.",
    )
