"""aes128gcm payload encryption for Web Push (RFC 8291 over RFC 8188), via ``http_ece``.

Each message gets a fresh ECDH key pair and salt; the content key is derived from the
shared secret with the subscription's public key and auth secret. ``http_ece`` (the
library pywebpush uses) does the record framing; ``cryptography`` the primitives.
"""

from __future__ import annotations

import os

from tempest.webpush.errors import WebPushPayloadTooLargeError
from tempest.webpush.schemas import WebPushKeysSchema

__all__ = ["MAX_ENCRYPTED_BYTES", "MAX_PLAINTEXT_BYTES", "check_payload_size", "encrypt_payload"]

MAX_ENCRYPTED_BYTES = 4096
"""The body size every push service must accept (RFC 8030 §7.2, RFC 8291 §4)."""

_HEADER_BYTES = 16 + 4 + 1 + 65  # salt, record size, key id length, sender public key
_RECORD_OVERHEAD = 1 + 16  # padding delimiter, AES-GCM tag
MAX_PLAINTEXT_BYTES = MAX_ENCRYPTED_BYTES - _HEADER_BYTES - _RECORD_OVERHEAD
"""The largest payload that fits: 3993 bytes."""


def check_payload_size(plaintext: bytes, *, endpoint: str = "") -> None:
    """Refuse a payload that would not fit in the 4096 bytes push services accept.

    Raises:
        WebPushPayloadTooLargeError: ``plaintext`` is above :data:`MAX_PLAINTEXT_BYTES`.
    """
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise WebPushPayloadTooLargeError(
            f"The push payload is {len(plaintext)} bytes; at most {MAX_PLAINTEXT_BYTES} fit "
            f"in the {MAX_ENCRYPTED_BYTES} encrypted bytes push services accept: send an id "
            "and let the service worker fetch the rest",
            endpoint=endpoint or None,
        )


def encrypt_payload(plaintext: bytes, keys: WebPushKeysSchema, *, endpoint: str = "") -> bytes:
    """The aes128gcm body carrying ``plaintext`` to the subscription with ``keys``.

    Args:
        plaintext: The message (1..3993 bytes).
        keys: The subscription's ``p256dh`` and ``auth``.
        endpoint: For the error message.

    Raises:
        WebPushPayloadTooLargeError: ``plaintext`` does not fit in 4096 encrypted bytes.
    """
    check_payload_size(plaintext, endpoint=endpoint)
    try:
        import http_ece  # type: ignore[import-untyped]
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise ImportError(
            'Web Push encryption needs http-ece: pip install "tempest-framework[webpush]"'
        ) from error
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=sender,
        dh=keys.p256dh_bytes,
        auth_secret=keys.auth_bytes,
        version="aes128gcm",
    )
    return body
