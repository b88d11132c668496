"""Settings: the :class:`Settings` base, the spec's mixins and the lazy ``settings``.

The names are resolved lazily (PEP 562) so that ``import tempest.conf.environ`` and the
command line's fast paths never import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes
from tempest.conf.environ import ENVIRONMENT_VARIABLE

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "AdminSettings": "tempest.conf.mixins",
    "AuthSettings": "tempest.conf.mixins",
    "BaseAppSettings": "tempest.conf.mixins",
    "CacheSettings": "tempest.conf.cache",
    "MetricsSettings": "tempest.conf.metrics",
    "TracingSettings": "tempest.conf.tracing",
    "CORSSettings": "tempest.conf.mixins",
    "CSRFSettings": "tempest.conf.mixins",
    "DatabaseSettings": "tempest.conf.mixins",
    "EmailSettings": "tempest.conf.mixins",
    "FeatureFlagSettings": "tempest.conf.flags",
    "HTTPClientSettings": "tempest.conf.http_client",
    "IdempotencySettings": "tempest.conf.mixins",
    "JWTSettings": "tempest.conf.mixins",
    "LocaleSettings": "tempest.conf.locale",
    "LogSettings": "tempest.conf.mixins",
    "MinIOSettings": "tempest.conf.mixins",
    "OAuthSettings": "tempest.conf.oauth",
    "RabbitMQSettings": "tempest.conf.mixins",
    "RateLimitSettings": "tempest.conf.rate_limit",
    "RedisSettings": "tempest.conf.mixins",
    "SSESettings": "tempest.conf.sse",
    "ServerSettings": "tempest.conf.mixins",
    "TaskIQSettings": "tempest.conf.mixins",
    "TokenSettings": "tempest.conf.mixins",
    "UploadSettings": "tempest.conf.mixins",
    "WebhookSettings": "tempest.conf.webhooks",
    "WebPushSettings": "tempest.conf.mixins",
    "DEFAULT_MIDDLEWARE": "tempest.conf.base",
    "Settings": "tempest.conf.base",
    "LazySettings": "tempest.conf.lazy",
    "load_settings_module": "tempest.conf.lazy",
    "override_settings": "tempest.conf.lazy",
    "settings": "tempest.conf.lazy",
    "site_url": "tempest.conf.site",
    "shared_state_url": "tempest.conf.shared_state",
    "ImproperlyConfigured": "tempest.exceptions.framework",
}

__all__ = ["ENVIRONMENT_VARIABLE", *_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.conf.base import DEFAULT_MIDDLEWARE as DEFAULT_MIDDLEWARE, Settings as Settings
    from tempest.conf.cache import CacheSettings as CacheSettings
    from tempest.conf.flags import FeatureFlagSettings as FeatureFlagSettings
    from tempest.conf.http_client import HTTPClientSettings as HTTPClientSettings
    from tempest.conf.lazy import (
        LazySettings as LazySettings,
        load_settings_module as load_settings_module,
        override_settings as override_settings,
        settings as settings,
    )
    from tempest.conf.locale import LocaleSettings as LocaleSettings
    from tempest.conf.metrics import MetricsSettings as MetricsSettings
    from tempest.conf.mixins import (
        AdminSettings as AdminSettings,
        AuthSettings as AuthSettings,
        BaseAppSettings as BaseAppSettings,
        CORSSettings as CORSSettings,
        CSRFSettings as CSRFSettings,
        DatabaseSettings as DatabaseSettings,
        EmailSettings as EmailSettings,
        IdempotencySettings as IdempotencySettings,
        JWTSettings as JWTSettings,
        LogSettings as LogSettings,
        MinIOSettings as MinIOSettings,
        RabbitMQSettings as RabbitMQSettings,
        RedisSettings as RedisSettings,
        ServerSettings as ServerSettings,
        TaskIQSettings as TaskIQSettings,
        TokenSettings as TokenSettings,
        UploadSettings as UploadSettings,
        WebPushSettings as WebPushSettings,
    )
    from tempest.conf.oauth import OAuthSettings as OAuthSettings
    from tempest.conf.rate_limit import RateLimitSettings as RateLimitSettings
    from tempest.conf.shared_state import shared_state_url as shared_state_url
    from tempest.conf.site import site_url as site_url
    from tempest.conf.sse import SSESettings as SSESettings
    from tempest.conf.tracing import TracingSettings as TracingSettings
    from tempest.conf.webhooks import WebhookSettings as WebhookSettings
    from tempest.exceptions.framework import ImproperlyConfigured as ImproperlyConfigured
