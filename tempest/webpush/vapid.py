"""VAPID (RFC 8292): the server's key pair and the signed tokens that identify it.

A token is an ES256 JWT whose ``aud`` is the push service's origin, ``sub`` a contact
(``mailto:`` or ``https:``) and ``exp`` at most 24 hours ahead. Signing one per message
wastes CPU and defeats the push services' caching of verified tokens, so
:class:`VapidSigner` keeps one token per audience and signs a new one only when the kept
one nears its expiry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tempest.webpush.errors import WebPushError
from tempest.webpush.schemas import b64url_decode, b64url_encode

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

__all__ = [
    "MAX_TOKEN_LIFETIME_SECONDS",
    "VapidKeyPair",
    "VapidSigner",
    "generate_vapid_keys",
    "load_private_key",
]

MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600
"""RFC 8292: push services refuse a token that expires more than 24 hours ahead."""


@dataclass(frozen=True)
class VapidKeyPair:
    """A VAPID key pair, both halves URL-safe base64 without padding.

    Attributes:
        public_key: The uncompressed P-256 point (65 bytes): ``VAPID_PUBLIC_KEY``, and the
            ``applicationServerKey`` the browser subscribes with.
        private_key: The private scalar (32 bytes): ``VAPID_PRIVATE_KEY``; keep it secret.
    """

    public_key: str
    private_key: str


def _crypto_missing(error: ImportError) -> ImportError:
    return ImportError(
        'Web Push needs cryptography: pip install "tempest-framework[webpush]"'
    ).with_traceback(error.__traceback__)


def generate_vapid_keys() -> VapidKeyPair:
    """A new random VAPID key pair."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise _crypto_missing(error) from error
    key = ec.generate_private_key(ec.SECP256R1())
    return VapidKeyPair(public_key=public_key_of(key), private_key=_raw_private(key))


def _raw_private(key: EllipticCurvePrivateKey) -> str:
    return b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(key: EllipticCurvePrivateKey) -> str:
    """The uncompressed public point of ``key``, URL-safe base64."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url_encode(raw)


def load_private_key(value: str) -> EllipticCurvePrivateKey:
    """Read a VAPID private key: raw URL-safe base64 (32 bytes), PEM, or base64 DER.

    Raises:
        WebPushError: ``value`` is empty or is not a P-256 private key in one of those forms.
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise _crypto_missing(error) from error
    text = value.strip()
    if not text:
        raise WebPushError(
            "No VAPID private key: set VAPID_PRIVATE_KEY (python manage.py webpush keys "
            "prints a new pair)"
        )
    try:
        if text.startswith("-----BEGIN"):
            loaded = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text.replace("+", "-").replace("/", "_"))
            if len(raw) == 32:
                loaded = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                loaded = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError) as error:
        raise WebPushError(
            "VAPID_PRIVATE_KEY is not a P-256 private key (expected the URL-safe base64 "
            "of 32 bytes, as `python manage.py webpush keys` prints, or a PEM key)"
        ) from error
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
        loaded.curve, ec.SECP256R1
    ):
        raise WebPushError("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) EC key")
    return loaded


def _check_subject(subject: str) -> str:
    if not (subject.startswith("mailto:") or subject.startswith("https://")):
        raise WebPushError(
            f"The VAPID subject must be a mailto: or https: URL, not {subject!r} "
            "(push services such as Apple's refuse other values)"
        )
    return subject


class VapidSigner:
    """Makes the ``Authorization: vapid t=..., k=...`` header, one token per audience.

    A token is reused for every message to the same push service until less than
    ``refresh_seconds`` of its lifetime remain.

    Args:
        private_key: The VAPID private key (see :func:`load_private_key`).
        subject: The ``sub`` claim: ``mailto:you@example.com`` or an ``https:`` URL.
        lifetime_seconds: How long a token is valid, at most 24 hours (default 12).
        public_key: The public key, checked against the private one when given.

    Raises:
        WebPushError: The key is invalid, the subject is not a mailto:/https: URL, the
            lifetime is outside 1 minute..24 hours, or the public key does not match.
    """

    def __init__(
        self,
        private_key: str,
        subject: str,
        *,
        lifetime_seconds: int = 12 * 3600,
        public_key: str | None = None,
    ) -> None:
        if not 60 <= lifetime_seconds <= MAX_TOKEN_LIFETIME_SECONDS:
            raise WebPushError(
                "The VAPID token lifetime must be between 60 seconds and 24 hours, "
                f"not {lifetime_seconds}"
            )
        self._key = load_private_key(private_key)
        self.subject = _check_subject(subject)
        self.public_key = public_key_of(self._key)
        if public_key and public_key.strip().rstrip("=") != self.public_key:
            raise WebPushError(
                "VAPID_PUBLIC_KEY is not the public half of VAPID_PRIVATE_KEY: browsers "
                "subscribed with VAPID_PUBLIC_KEY, so every push would be refused (403)"
            )
        self.lifetime_seconds = lifetime_seconds
        self._refresh_seconds = min(3600, lifetime_seconds // 2)
        self._tokens: dict[str, tuple[str, int]] = {}
        self.signed = 0
        """How many tokens were signed (not reused) so far."""

    def token(self, audience: str, *, now: float | None = None) -> str:
        """The JWT for ``audience``, reused while more than the refresh margin remains."""
        moment = int(time.time() if now is None else now)
        kept = self._tokens.get(audience)
        if kept is not None and kept[1] - moment > self._refresh_seconds:
            return kept[0]
        import jwt

        expires = moment + self.lifetime_seconds
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"typ": "JWT"})
        self._tokens[audience] = (token, expires)
        self.signed += 1
        return token

    def authorization(self, audience: str) -> str:
        """The ``Authorization`` header value for a message to ``audience``."""
        return f"vapid t={self.token(audience)}, k={self.public_key}"
