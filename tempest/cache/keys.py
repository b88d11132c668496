"""Cache keys: the names of entries, of namespace and tag version counters, and of locks.

Every key the cache writes starts with the backend's prefix (``tempest:cache:`` by
default). Under it:

- ``e:<namespace>:<name>:<digest>``: an entry (``<name>`` is the function's
  ``key_prefix`` + ``__qualname__``, or ``route:<qualname>`` for a cached route);
- ``ns:<namespace>``: the version counter of a namespace (:func:`namespace_registry_key`);
- ``tag:<tag>``: the version counter of a tag (:func:`tag_registry_key`);
- ``lock:<entry key>``: the lease of the process loading an entry.

Invalidating a namespace or a tag increments its counter: one ``INCR``, no ``KEYS`` or
``SCAN``. Each entry records the counters it was loaded under, and a read that finds
another value ignores the entry, so every process misses on its next read.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = [
    "DEFAULT_NAMESPACE",
    "DEFAULT_PREFIX",
    "check_name",
    "digest",
    "entry_key",
    "lock_key",
    "namespace_registry_key",
    "tag_registry_key",
]

DEFAULT_PREFIX = "tempest:cache:"
"""The prefix of the cache's keys when the settings name none."""

DEFAULT_NAMESPACE = "default"
"""The namespace of entries that declare none."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_name(value: object, what: str) -> str:
    """Validate a namespace or tag name: letters, digits, ``_``, ``.``, ``-``.

    Separators (``:``, ``/``, spaces) and wildcards (``*``, ``?``, ``[``) are refused: a
    name becomes part of Redis keys, and ``user:1`` next to ``user`` + ``1`` or a ``*``
    read as a pattern by someone's ``SCAN`` would mix entries up.

    Args:
        value: The name.
        what: ``"namespace"`` or ``"tag"``, for the error message.

    Returns:
        The name.

    Raises:
        ValueError: Not a string of 1 to 128 of those characters, starting with a letter
            or a digit.
    """
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise ValueError(
            f"invalid cache {what} {value!r}: use 1-128 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit); separators such as ':' or '/' and "
            "wildcards such as '*' are not allowed, e.g. 'user-42' rather than 'user:42'"
        )
    return value


def check_names(values: Iterable[object], what: str) -> tuple[str, ...]:
    """:func:`check_name` for each of ``values``, duplicates dropped, order kept."""
    if isinstance(values, str):
        values = (values,)
    return tuple(dict.fromkeys(check_name(value, what) for value in values))


def namespace_registry_key(namespace: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The Redis key of a namespace's version counter.

    Args:
        namespace: The namespace (validated by :func:`check_name`).
        prefix: The cache's key prefix.

    Returns:
        ``<prefix>ns:<namespace>``; ``INCR`` on it invalidates every entry of the namespace.

    Raises:
        ValueError: ``namespace`` is not a valid name.
    """
    return f"{prefix}ns:{check_name(namespace, 'namespace')}"


def tag_registry_key(tag: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The Redis key of a tag's version counter.

    Args:
        tag: The tag (validated by :func:`check_name`).
        prefix: The cache's key prefix.

    Returns:
        ``<prefix>tag:<tag>``; ``INCR`` on it invalidates every entry carrying the tag.

    Raises:
        ValueError: ``tag`` is not a valid name.
    """
    return f"{prefix}tag:{check_name(tag, 'tag')}"


def entry_key(prefix: str, namespace: str, name: str, identity: bytes) -> str:
    """The key of one entry: ``<prefix>e:<namespace>:<name>:<sha256 of identity>``."""
    return f"{prefix}e:{namespace}:{name}:{digest(identity)}"


def lock_key(key: str, prefix: str) -> str:
    """The key of the lease held while ``key`` is loaded."""
    return f"{prefix}lock:{key.removeprefix(prefix)}"


def digest(data: bytes) -> str:
    """SHA-256 of ``data``, hexadecimal."""
    return hashlib.sha256(data).hexdigest()
