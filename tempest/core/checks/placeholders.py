"""Recognise the placeholder secrets that templates and examples ship."""

from __future__ import annotations

PLACEHOLDER_PREFIXES: tuple[str, ...] = (
    "changeme",
    "change-me",
    "change_me",
    "replace-me",
    "secret",
    "insecure",
    "dev-",
)
"""Lower-case starts of values nobody should deploy: ``.env.example``'s
``change-me-to-a-long-random-value``, ``secret``, Django's ``django-insecure-`` style
``insecure-...`` development keys."""


def is_placeholder_secret(value: str) -> bool:
    """Whether a secret setting still holds a placeholder instead of random data.

    Args:
        value: The setting's value.

    Returns:
        True when it starts (in any case) with one of :data:`PLACEHOLDER_PREFIXES`.
    """
    return value.strip().lower().startswith(PLACEHOLDER_PREFIXES)
