"""Where state shared by every process of a project lives: ``REDIS_URL``, or memory.

Sign-in throttles, signed-out admin sessions, rate limits, idempotency keys and the
scheduler's lease must be counted once for the whole deployment, not once per worker.
A project that sets ``REDIS_URL`` gets all of them in that Redis with no other change;
each battery's own URL setting (``AUTH_THROTTLE_URL``, ...) still wins when set, and
without either the state stays in the process's memory (right for one process: tests,
``runserver``, ``serve`` with one worker).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MEMORY_URL", "check_shared_state_url", "in_memory_shared_state", "shared_state_url"]

MEMORY_URL = "memory://"
"""The URL of in-process state."""


def check_shared_state_url(value: str | None) -> str | None:
    """Validate a battery's own URL setting: unset, ``memory://`` or a Redis URL.

    Raises:
        ValueError: Another scheme (the settings report it with the setting's name).
    """
    scheme = value.split("://", 1)[0].lower() if value and "://" in value else ""
    if value and scheme not in ("memory", "redis", "rediss", "unix"):
        raise ValueError(f"must be 'memory://' or a redis:// URL, got {value!r}")
    return value


def shared_state_url(settings: Any, own_url: str | None = None) -> str:
    """The URL a battery keeps its shared state at.

    Args:
        settings: The project's settings (``REDIS_URL`` is read when present).
        own_url: The battery's own URL setting, if it has one and it is set.

    Returns:
        ``own_url`` when set, else ``REDIS_URL`` when set, else :data:`MEMORY_URL`.
    """
    if own_url:
        return own_url
    redis_url = getattr(settings, "REDIS_URL", None)
    return str(redis_url) if redis_url else MEMORY_URL


def in_memory_shared_state(settings: Any) -> list[str]:
    """The URL settings of the batteries in use whose state stays in each process's memory.

    ``manage.py serve --workers N`` warns with them: each worker would count sign-in
    attempts, rate limits... on its own.

    Args:
        settings: The project's settings.

    Returns:
        Setting names (``AUTH_THROTTLE_URL``, ``ADMIN_REVOKED_SESSIONS_URL``,
        ``RATE_LIMIT_URL``, ``IDEMPOTENCY_URL``), for the batteries the project uses.
    """
    apps = set(getattr(settings, "INSTALLED_APPS", ()) or ())
    middleware = [str(path).rsplit(".", 1)[-1] for path in getattr(settings, "MIDDLEWARE", ())]
    in_use = {
        "AUTH_THROTTLE_URL": bool(apps & {"tempest.contrib.auth", "tempest.contrib.admin"}),
        "ADMIN_REVOKED_SESSIONS_URL": "tempest.contrib.admin" in apps,
        "RATE_LIMIT_URL": "RateLimitMiddleware" in middleware
        and getattr(settings, "RATE_LIMIT_REQUESTS", None) is not None,
        "IDEMPOTENCY_URL": "IdempotencyMiddleware" in middleware,
    }
    return [
        name
        for name, used in in_use.items()
        if used and shared_state_url(settings, getattr(settings, name, None)) == MEMORY_URL
    ]
