"""Settings: the :class:`Settings` base, the spec's mixins and the lazy ``settings``.

The names are resolved lazily (PEP 562) so that ``import tempest.conf.environ`` and the
command line's fast paths never import pydantic.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from tempest.conf.environ import ENVIRONMENT_VARIABLE

_MIXINS = [
    "AuthSettings",
    "BaseAppSettings",
    "CORSSettings",
    "DatabaseSettings",
    "EmailSettings",
    "JWTSettings",
    "LogSettings",
    "MinIOSettings",
    "RabbitMQSettings",
    "RedisSettings",
    "ServerSettings",
    "TaskIQSettings",
    "TokenSettings",
    "UploadSettings",
    "WebPushSettings",
]
_LAZY: dict[str, str] = {
    **dict.fromkeys(_MIXINS, "tempest.conf.mixins"),
    "DEFAULT_MIDDLEWARE": "tempest.conf.base",
    "Settings": "tempest.conf.base",
    "LazySettings": "tempest.conf.lazy",
    "load_settings_module": "tempest.conf.lazy",
    "override_settings": "tempest.conf.lazy",
    "settings": "tempest.conf.lazy",
    "ImproperlyConfigured": "tempest.exceptions.framework",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'tempest.conf' has no attribute {name!r}")
    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from tempest.conf.base import DEFAULT_MIDDLEWARE as DEFAULT_MIDDLEWARE
    from tempest.conf.base import Settings as Settings
    from tempest.conf.lazy import (
        LazySettings as LazySettings,
    )
    from tempest.conf.lazy import (
        load_settings_module as load_settings_module,
    )
    from tempest.conf.lazy import (
        override_settings as override_settings,
    )
    from tempest.conf.lazy import (
        settings as settings,
    )
    from tempest.conf.mixins import (
        AuthSettings as AuthSettings,
    )
    from tempest.conf.mixins import (
        BaseAppSettings as BaseAppSettings,
    )
    from tempest.conf.mixins import (
        CORSSettings as CORSSettings,
    )
    from tempest.conf.mixins import (
        DatabaseSettings as DatabaseSettings,
    )
    from tempest.conf.mixins import (
        EmailSettings as EmailSettings,
    )
    from tempest.conf.mixins import (
        JWTSettings as JWTSettings,
    )
    from tempest.conf.mixins import (
        LogSettings as LogSettings,
    )
    from tempest.conf.mixins import (
        MinIOSettings as MinIOSettings,
    )
    from tempest.conf.mixins import (
        RabbitMQSettings as RabbitMQSettings,
    )
    from tempest.conf.mixins import (
        RedisSettings as RedisSettings,
    )
    from tempest.conf.mixins import (
        ServerSettings as ServerSettings,
    )
    from tempest.conf.mixins import (
        TaskIQSettings as TaskIQSettings,
    )
    from tempest.conf.mixins import (
        TokenSettings as TokenSettings,
    )
    from tempest.conf.mixins import (
        UploadSettings as UploadSettings,
    )
    from tempest.conf.mixins import (
        WebPushSettings as WebPushSettings,
    )
    from tempest.exceptions.framework import ImproperlyConfigured as ImproperlyConfigured

__all__ = [
    "DEFAULT_MIDDLEWARE",
    "ENVIRONMENT_VARIABLE",
    "AuthSettings",
    "BaseAppSettings",
    "CORSSettings",
    "DatabaseSettings",
    "EmailSettings",
    "ImproperlyConfigured",
    "JWTSettings",
    "LazySettings",
    "LogSettings",
    "MinIOSettings",
    "RabbitMQSettings",
    "RedisSettings",
    "ServerSettings",
    "Settings",
    "TaskIQSettings",
    "TokenSettings",
    "UploadSettings",
    "WebPushSettings",
    "load_settings_module",
    "override_settings",
    "settings",
]
