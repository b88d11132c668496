"""Opaque, tamper-evident cursors for keyset pagination.

A cursor is ``<payload>`` or ``<payload>.<tag>``, both parts URL-safe base64 without
padding. The payload is compact JSON in which datetimes, dates, times, UUIDs and decimals
are tagged so they round-trip exactly (see :mod:`tempest.schemas._cursor_values`). The
tag, present when a secret is in use, is the first 16 bytes of an HMAC-SHA256 of the
payload, so clients cannot forge or edit a cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any, cast

from tempest.exceptions import ValidationException
from tempest.schemas._cursor_values import from_json_value, to_json_value

__all__ = ["MAX_CURSOR_LENGTH", "decode_cursor", "encode_cursor"]

MAX_CURSOR_LENGTH = 2048
"""Longest cursor :func:`decode_cursor` accepts, in characters."""

_SHAPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?")
_TAG_BYTES = 16
# Keeps these tags from matching an HMAC that other code computes with SECRET_KEY.
_HMAC_CONTEXT = b"tempest.cursor\x00"


def _default_secret() -> bytes:
    from tempest.conf.lazy import LazySettings, settings

    if isinstance(settings, LazySettings) and not settings.configured:
        return b""
    value: Any = settings.SECRET_KEY
    if hasattr(value, "get_secret_value"):  # a project may declare it as SecretStr
        value = value.get_secret_value()
    return str(value or "").encode()


def _key(secret: str | bytes | None) -> bytes:
    if secret is None:
        return _default_secret()
    if isinstance(secret, str):
        return secret.encode()
    if isinstance(secret, bytes):
        return secret
    raise TypeError(f"cursor secret must be str or bytes, got {type(secret).__name__}")


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _HMAC_CONTEXT + body, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _invalid() -> ValidationException:
    return ValidationException("Invalid cursor", code="INVALID_CURSOR")


def encode_cursor(payload: dict[str, Any], *, secret: str | bytes | None = None) -> str:
    """Turn a payload into an opaque cursor string.

    Example::

        encode_cursor({"v": last.created_at, "id": last.id})

    Args:
        payload: A dict with string keys. Values may be JSON values, ``datetime``,
            ``date``, ``time``, ``UUID`` or ``Decimal``, nested in lists and dicts.
        secret: Key for the tamper-evident tag. ``None`` uses the project's
            ``SECRET_KEY`` when the settings are configured and it is non-empty; an
            empty secret (or none available) yields an unsigned cursor.

    Returns:
        The cursor, safe in a URL without further quoting.

    Raises:
        TypeError: ``payload`` is not a dict, holds an unsupported value or key, or uses
            a reserved one-key object (``{"$uuid": ...}`` and the like); ``secret`` is
            neither ``str`` nor ``bytes``.
        ValueError: ``payload`` holds a NaN or infinite float.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"cursor payload must be a dict, got {type(payload).__name__}")
    key = _key(secret)
    body = json.dumps(
        to_json_value(payload), separators=(",", ":"), allow_nan=False, ensure_ascii=False
    ).encode()
    cursor = _b64encode(body)
    if key:
        cursor += "." + _b64encode(_sign(key, body))
    return cursor


def decode_cursor(cursor: str, *, secret: str | bytes | None = None) -> dict[str, Any]:
    """Read back a cursor made by :func:`encode_cursor` with the same secret.

    Args:
        cursor: The cursor a client sent.
        secret: The key given to :func:`encode_cursor`; ``None`` resolves as there.

    Returns:
        The payload, with tagged values restored to their Python types.

    Raises:
        ValidationException: 422 with code ``INVALID_CURSOR`` when the cursor is not
            one of ours: too long, not base64 or JSON, not an object, truncated, or its
            tag is missing, wrong, or present while no secret is in use. The message
            never says which.
        TypeError: ``secret`` is neither ``str`` nor ``bytes``.
    """
    key = _key(secret)
    if (
        not isinstance(cursor, str)
        or len(cursor) > MAX_CURSOR_LENGTH
        or _SHAPE.fullmatch(cursor) is None
    ):
        raise _invalid()
    encoded_body, dot, encoded_tag = cursor.partition(".")
    try:
        body = _b64decode(encoded_body)
        if key:
            if not dot or not hmac.compare_digest(_b64decode(encoded_tag), _sign(key, body)):
                raise _invalid()
        elif dot:
            raise _invalid()
        payload = from_json_value(json.loads(body, parse_constant=_reject_constant))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise _invalid() from error
    if not isinstance(payload, dict):
        raise _invalid()
    return cast(dict[str, Any], payload)
