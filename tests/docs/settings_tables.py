"""The settings reference tables of docs/topics/settings.md, rendered from the code.

``test_settings_reference.py`` compares the page's Name, Type and Default columns with
these; print a fresh skeleton (descriptions from the code) with::

    python -m tests.docs.settings_tables
"""

from __future__ import annotations

import json
from typing import Any

from annotated_types import Ge, Gt, Le
from pydantic.fields import FieldInfo

from tempest.conf import mixins
from tempest.conf.base import Settings
from tempest.conf.cache import CacheSettings
from tempest.conf.flags import FeatureFlagSettings
from tempest.conf.http_client import HTTPClientSettings
from tempest.conf.locale import LocaleSettings
from tempest.conf.metrics import MetricsSettings
from tempest.conf.oauth import OAuthSettings
from tempest.conf.rate_limit import RateLimitSettings
from tempest.conf.rotation import SecretRotationSettings
from tempest.conf.sse import SSESettings
from tempest.conf.tracing import TracingSettings
from tempest.conf.webhooks import WebhookSettings

SECTIONS: list[tuple[str, type[Any]]] = [
    ("Settings", Settings),
    ("ServerSettings", mixins.ServerSettings),
    ("LogSettings", mixins.LogSettings),
    ("DatabaseSettings", mixins.DatabaseSettings),
    ("CORSSettings", mixins.CORSSettings),
    ("RedisSettings", mixins.RedisSettings),
    ("RabbitMQSettings", mixins.RabbitMQSettings),
    ("TaskIQSettings", mixins.TaskIQSettings),
    ("JWTSettings", mixins.JWTSettings),
    ("SecretRotationSettings", SecretRotationSettings),
    ("EmailSettings", mixins.EmailSettings),
    ("UploadSettings", mixins.UploadSettings),
    ("TokenSettings", mixins.TokenSettings),
    ("WebPushSettings", mixins.WebPushSettings),
    ("MinIOSettings", mixins.MinIOSettings),
    ("AuthSettings", mixins.AuthSettings),
    ("OAuthSettings", OAuthSettings),
    ("GracefulShutdownSettings", mixins.GracefulShutdownSettings),
    ("StaticFilesSettings", mixins.StaticFilesSettings),
    ("CSRFSettings", mixins.CSRFSettings),
    ("IdempotencySettings", mixins.IdempotencySettings),
    ("RateLimitSettings", RateLimitSettings),
    ("FeatureFlagSettings", FeatureFlagSettings),
    ("CacheSettings", CacheSettings),
    ("MetricsSettings", MetricsSettings),
    ("HTTPClientSettings", HTTPClientSettings),
    ("LocaleSettings", LocaleSettings),
    ("SSESettings", SSESettings),
    ("WebhookSettings", WebhookSettings),
    ("TracingSettings", TracingSettings),
]
HEADER = "| Name (setting and env var) | Type | Default | Description |"


def own_fields(cls: type[Any]) -> dict[str, FieldInfo]:
    """The fields ``cls`` declares itself (for Settings: not those of its mixins)."""
    inherited: set[str] = set()
    for base in cls.__mro__[1:]:
        inherited |= set(getattr(base, "model_fields", {}))
    own = set(cls.__annotations__) if cls is Settings else set(cls.model_fields)
    return {name: info for name, info in cls.model_fields.items() if name in own - inherited}


def render_type(info: FieldInfo) -> str:
    """The type with its bounds: ``int (≥ 1)``, ``list[str]``, ``str | None``..."""
    annotation = info.annotation
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    bounds = {type(item): item for item in info.metadata}
    if Ge in bounds and Le in bounds:
        return f"{text} ({bounds[Ge].ge}\u2013{bounds[Le].le})"  # en dash
    if Ge in bounds:
        return f"{text} (≥ {bounds[Ge].ge})"
    if Gt in bounds:
        return f"{text} (> {bounds[Gt].gt})"
    return text


def render_default(info: FieldInfo) -> str:
    """The default as a Python literal."""
    value = info.get_default(call_default_factory=True)
    if isinstance(value, str | list):
        return json.dumps(value)
    return repr(value)


def rows(cls: type[Any]) -> list[tuple[str, str, str]]:
    """(name, type, default) of each field ``cls`` declares, in declaration order."""
    return [
        (name, render_type(info), render_default(info)) for name, info in own_fields(cls).items()
    ]


def table(cls: type[Any]) -> str:
    """A markdown table, descriptions taken from the code."""
    lines = [HEADER, "| --- | --- | --- | --- |"]
    for (name, type_, default), info in zip(rows(cls), own_fields(cls).values(), strict=True):
        lines.append(f"| `{name}` | `{type_}` | `{default}` | {info.description or ''} |")
    return "\n".join(lines)


if __name__ == "__main__":
    for title, cls in SECTIONS:
        print(f"### `{title}`\n\n{table(cls)}\n")
