"""The project's flags, built from settings: :func:`get_flags`, :func:`build_backend`.

In precedence order (see :class:`~tempest.flags.CompositeFeatureFlagBackend`): the
environment (``FLAG_*``), the store (Redis when ``FEATURE_FLAGS_URL`` or ``REDIS_URL`` is
set, else this process's memory) and the ``FEATURE_FLAGS`` setting. The app's lifespan
starts them (:func:`lifespan_hooks`); readiness checks the Redis store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tempest.conf.shared_state import MEMORY_URL, shared_state_url
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.flags.backends import (
    CompositeFeatureFlagBackend,
    EnvFeatureFlagBackend,
    FeatureFlagBackend,
    MemoryFeatureFlagBackend,
)
from tempest.flags.feature_flags import FeatureFlags
from tempest.flags.state import InvalidFlagError

__all__ = ["build_backend", "build_flags", "flags_url", "get_flags", "lifespan_hooks", "set_flags"]

_flags: FeatureFlags | None = None


def flags_url(settings: Any) -> str:
    """Where the project's flag changes live: ``FEATURE_FLAGS_URL``, ``REDIS_URL`` or memory."""
    return shared_state_url(settings, getattr(settings, "FEATURE_FLAGS_URL", None))


def build_backend(settings: Any) -> CompositeFeatureFlagBackend:
    """The project's backend: environment, then the store, then ``FEATURE_FLAGS``.

    Raises:
        ImproperlyConfigured: ``FEATURE_FLAGS`` holds a name or a value that cannot be used.
    """
    declared = getattr(settings, "FEATURE_FLAGS", {})
    try:
        defaults = MemoryFeatureFlagBackend(declared, read_only=True, label="settings")
    except InvalidFlagError as exc:
        raise ImproperlyConfigured(f"FEATURE_FLAGS: {exc}") from None
    layers: list[FeatureFlagBackend] = []
    prefix = getattr(settings, "FEATURE_FLAGS_ENV_PREFIX", "FLAG_")
    if prefix:
        layers.append(EnvFeatureFlagBackend(prefix, names=declared))
    url = flags_url(settings)
    if url == MEMORY_URL:
        layers.append(MemoryFeatureFlagBackend())
    else:
        from tempest.flags.redis_backend import RedisFeatureFlagBackend

        key = getattr(settings, "FEATURE_FLAGS_REDIS_KEY", "tempest:flags")
        layers.append(RedisFeatureFlagBackend.from_url(url, key=key))
    layers.append(defaults)
    return CompositeFeatureFlagBackend(layers)


def build_flags(settings: Any) -> FeatureFlags:
    """A new :class:`FeatureFlags` on :func:`build_backend` (not started)."""
    return FeatureFlags(
        build_backend(settings),
        reload_seconds=getattr(settings, "FEATURE_FLAGS_RELOAD_SECONDS", 30.0),
    )


def get_flags() -> FeatureFlags:
    """The project's flags: those of the running app, else built from settings on first use.

    The app's lifespan starts them. Elsewhere (a task, a command), ``await
    get_flags().start()`` loads them first.
    """
    global _flags
    if _flags is None:
        from tempest.conf import settings

        _flags = build_flags(settings)
    return _flags


def set_flags(flags: FeatureFlags | None) -> None:
    """Make ``flags`` the project's flags (None: built again from settings on next use)."""
    global _flags
    _flags = flags


def lifespan_hooks(
    settings: Any,
) -> tuple[
    Callable[[], Awaitable[None]],
    Callable[[], Awaitable[None]],
    Callable[[], Awaitable[bool]] | None,
]:
    """What the app's lifespan does with the project's flags: (start, stop, health check).

    Builds the flags now (so that broken ``FEATURE_FLAGS`` stop the app from building)
    and makes them the project's flags. The health check is None when the store is in
    memory: there is nothing that could be down.
    """
    flags = build_flags(settings)
    set_flags(flags)

    async def start() -> None:
        set_flags(flags)  # the app that starts last is the one that serves
        await flags.start()

    check = flags.health_check if flags_url(settings) != MEMORY_URL else None
    return start, flags.aclose, check
