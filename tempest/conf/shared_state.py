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

__all__ = ["MEMORY_URL", "shared_state_url"]

MEMORY_URL = "memory://"
"""The URL of in-process state."""


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
