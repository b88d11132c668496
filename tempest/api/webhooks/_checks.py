"""Checks every verifier shares: header text, signature decoding, timestamp windows."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Literal

from tempest.api.webhooks.errors import WebhookSignatureError

MAX_HEADER_LENGTH = 8192
"""Longest signature header accepted, in characters: a longer one is refused unread."""

MAX_SIGNATURES = 16
"""Most signatures one header may carry (key rotation needs a few, not hundreds)."""

Encoding = Literal["hex", "base64"]


def header_text(value: str | bytes | None, header: str) -> str:
    """``value`` as ASCII text, or :class:`WebhookSignatureError` saying what is wrong.

    Args:
        value: The header's value as received (None or empty: missing).
        header: The header's name, for the message.
    """
    if value is None or len(value) == 0:
        raise WebhookSignatureError(
            "missing_header", f"The {header} header is missing.", header=header
        )
    if len(value) > MAX_HEADER_LENGTH:
        raise WebhookSignatureError(
            "header_too_long",
            f"The {header} header is longer than {MAX_HEADER_LENGTH} characters.",
            header=header,
        )
    if isinstance(value, bytes):
        if not value.isascii():
            raise _not_ascii(header)
        return value.decode("ascii").strip()
    if not value.isascii():
        raise _not_ascii(header)
    return value.strip()


def _not_ascii(header: str) -> WebhookSignatureError:
    return WebhookSignatureError(
        "malformed_header", f"The {header} header is not ASCII text.", header=header
    )


def decode_signature(text: str, encoding: Encoding, header: str) -> bytes:
    """The bytes a hex or base64 signature stands for.

    Raises:
        WebhookSignatureError: ``text`` is empty or not valid in ``encoding``.
    """
    try:
        if encoding == "hex":
            if len(text) % 2 or not all(char in _HEX for char in text):
                raise ValueError(text)
            decoded = bytes.fromhex(text)
        else:
            decoded = decode_canonical_base64(text)
    except (ValueError, binascii.Error):
        raise WebhookSignatureError(
            "bad_encoding", f"The signature in {header} is not valid {encoding}.", header=header
        ) from None
    if not decoded:
        raise WebhookSignatureError(
            "bad_encoding", f"The signature in {header} is empty.", header=header
        )
    return decoded


_HEX = frozenset("0123456789abcdefABCDEF")


def decode_canonical_base64(text: str) -> bytes:
    """The bytes of standard base64 ``text``, which must be their one canonical encoding.

    Base64 ignores the unused low bits of the last character, so ``...T4=`` and ``...T6=``
    decode alike: a signature is compared by its bytes, and only the canonical spelling
    (the one the senders' libraries compare as text) is accepted.

    Raises:
        ValueError: ``text`` is not valid base64, or not written the canonical way.
    """
    decoded = base64.b64decode(text.encode("ascii"), validate=True)
    if base64.b64encode(decoded).decode("ascii") != text:
        raise ValueError("not the canonical base64 encoding")
    return decoded


def parse_timestamp(text: str, header: str) -> int:
    """A Unix timestamp written as 1 to 12 ASCII digits, without leading zeros.

    Leading zeros are refused although they parse to the same number: a signed header
    has one spelling, so a changed one is never accepted.

    Raises:
        WebhookSignatureError: Anything else (a sign, spaces, a fraction, a huge number).
    """
    canonical = text == "0" or not text.startswith("0")
    if not (0 < len(text) <= 12 and text.isdigit() and text.isascii() and canonical):
        raise WebhookSignatureError(
            "malformed_header",
            f"The timestamp in {header} is not a Unix time in seconds.",
            header=header,
        )
    return int(text)


def check_window(timestamp: int, tolerance: float, header: str, now: float | None = None) -> None:
    """Refuse a timestamp more than ``tolerance`` seconds away from now, either way.

    Raises:
        WebhookSignatureError: ``stale_timestamp`` (too old: a replay, or a clock far
            behind) or ``future_timestamp`` (too far ahead).
    """
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookSignatureError(
            "stale_timestamp",
            f"The timestamp in {header} is more than {tolerance:g} seconds old.",
            header=header,
        )
    if timestamp > current + tolerance:
        raise WebhookSignatureError(
            "future_timestamp",
            f"The timestamp in {header} is more than {tolerance:g} seconds in the future.",
            header=header,
        )


def check_tolerance(tolerance: float) -> float:
    """A positive, finite tolerance window in seconds.

    Raises:
        ValueError: Zero, negative or not finite.
    """
    if not 0 < tolerance < float("inf"):
        raise ValueError(f"tolerance_seconds must be a positive number, got {tolerance!r}")
    return float(tolerance)


DEFAULT_TOLERANCE_SECONDS = 300.0
"""How far a signed timestamp may be from now, either way, unless told otherwise."""


def project_tolerance() -> float:
    """``WEBHOOK_TOLERANCE_SECONDS`` of the project's settings; 300 outside a project."""
    from tempest.exceptions import ImproperlyConfigured

    try:
        from tempest.conf import settings

        value = getattr(settings, "WEBHOOK_TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS)
    except ImproperlyConfigured:
        return DEFAULT_TOLERANCE_SECONDS
    return float(value)
