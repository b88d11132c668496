"""Random tokens that are stored only as digests: reset links, email confirmation, API keys.

The plain token goes to the user once; the database keeps
``HMAC-SHA-256(secret, token)`` (or SHA-256 without a secret), so a leaked row cannot be
used as a token. With a ``secret`` (a service-wide pepper kept outside the database) a
leaked digest column cannot even be checked against guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["generate_opaque_token", "hash_opaque_token", "verify_opaque_token"]

_MIN_BYTES = 16


def generate_opaque_token(nbytes: int = 32) -> str:
    """Make a URL-safe random token.

    Args:
        nbytes: Bytes of randomness, at least 16 (128 bits). The token is about 1.3 times
            as many characters.

    Returns:
        The token, in the URL-safe base64 alphabet without padding.

    Raises:
        TypeError: ``nbytes`` is not an integer.
        ValueError: ``nbytes`` is below 16.
    """
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise TypeError(f"nbytes must be an integer, got {type(nbytes).__name__}")
    if nbytes < _MIN_BYTES:
        raise ValueError(
            f"nbytes must be at least {_MIN_BYTES} (128 bits) for a token that cannot be "
            f"guessed, got {nbytes}"
        )
    return secrets.token_urlsafe(nbytes)


def hash_opaque_token(token: str, *, secret: str | None = None) -> str:
    """Return the digest of ``token`` to store instead of the token.

    Args:
        token: The plain token.
        secret: Optional pepper; the same value must be given to :func:`verify_opaque_token`.

    Returns:
        64 lowercase hex characters: HMAC-SHA-256 keyed with ``secret``, or SHA-256 when
        ``secret`` is ``None``.

    Raises:
        TypeError: ``token`` or ``secret`` is not a string.
        ValueError: ``token`` or ``secret`` is empty.
    """
    if not isinstance(token, str):
        raise TypeError(f"token must be a string, got {type(token).__name__}")
    if not token:
        raise ValueError("token must not be empty")
    return _digest(token, _key(secret))


def verify_opaque_token(token: str, digest: str, *, secret: str | None = None) -> bool:
    """Tell whether ``token`` is the one whose digest was stored, in constant time.

    Never raises for bad input from a request: an empty or non-string token or digest
    gives ``False``.

    Args:
        token: The plain token presented by the user.
        digest: The stored digest from :func:`hash_opaque_token`.
        secret: The pepper the digest was made with, if any.

    Returns:
        ``True`` when they match.

    Raises:
        TypeError: ``secret`` is not a string.
        ValueError: ``secret`` is empty (a configuration mistake, not bad input).
    """
    key = _key(secret)
    if not isinstance(token, str) or not token or not isinstance(digest, str):
        return False
    expected = _digest(token, key).encode("ascii")
    return hmac.compare_digest(expected, digest.encode("utf-8", "surrogatepass"))


def _key(secret: str | None) -> bytes | None:
    if secret is None:
        return None
    if not isinstance(secret, str):
        raise TypeError(f"secret must be a string or None, got {type(secret).__name__}")
    if not secret:
        raise ValueError("secret must not be empty: pass None for no pepper")
    return secret.encode("utf-8")


def _digest(token: str, key: bytes | None) -> str:
    data = token.encode("utf-8", "surrogatepass")
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.new(key, data, hashlib.sha256).hexdigest()
