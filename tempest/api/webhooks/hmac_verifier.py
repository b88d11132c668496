"""HMAC-signed webhooks (GitHub, Shopify, most providers): :class:`WebhookSignatureVerifier`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request

from tempest.api.webhooks._checks import Encoding, decode_signature, header_text
from tempest.api.webhooks.errors import WebhookSignatureError

__all__ = ["WebhookSignatureVerifier", "verifying_dependency"]


class WebhookSignatureVerifier:
    """Checks an HMAC of the raw body sent in one header, e.g. GitHub's.

    ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` is
    ``WebhookSignatureVerifier(secret=..., header_name="X-Hub-Signature-256",
    prefix="sha256=")``. The digest is compared with :func:`hmac.compare_digest`.

    This scheme signs the body only: a captured delivery can be sent again. Providers
    that sign a timestamp too have their own verifiers (:class:`StripeWebhookVerifier`,
    :class:`StandardWebhookVerifier`), which refuse old and replayed deliveries.
    """

    def __init__(
        self,
        secret: str | bytes,
        *,
        algorithm: str = "sha256",
        header_name: str = "X-Signature",
        prefix: str = "",
        encoding: Encoding = "hex",
    ) -> None:
        """Configure the verifier.

        Args:
            secret: The shared secret (a str is used as its UTF-8 bytes).
            algorithm: A :data:`hashlib.algorithms_guaranteed` name with a fixed digest
                size (``sha256``, ``sha1``, ``sha512``, ``blake2b``...).
            header_name: The header carrying the signature.
            prefix: Text before the signature in the header (``"sha256="``), checked and
                stripped.
            encoding: How the signature is written: ``"hex"`` or ``"base64"``.

        Raises:
            ValueError: An empty secret, an unknown or variable-length algorithm, or
                another encoding.
        """
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if not key:
            raise ValueError("secret must not be empty")
        if algorithm not in hashlib.algorithms_guaranteed or algorithm.startswith("shake_"):
            allowed = sorted(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake"))
            raise ValueError(f"algorithm must be one of {allowed}, got {algorithm!r}")
        if encoding not in ("hex", "base64"):
            raise ValueError(f"encoding must be 'hex' or 'base64', got {encoding!r}")
        self._key = key
        self.algorithm = algorithm
        self.header_name = header_name
        self.prefix = prefix
        self.encoding: Encoding = encoding

    def digest(self, body: bytes) -> bytes:
        """The raw HMAC of ``body`` under the secret."""
        return hmac.new(self._key, body, self.algorithm).digest()

    def sign(self, body: bytes) -> str:
        """The header value a sender would send for ``body`` (prefix included).

        For tests and for services of your own that send webhooks.
        """
        digest = self.digest(body)
        if self.encoding == "hex":
            return self.prefix + digest.hex()
        return self.prefix + base64.b64encode(digest).decode("ascii")

    def verify(self, body: bytes, signature: str | bytes | None) -> None:
        """Check ``signature`` (the header's value) against ``body``.

        Use it where there is no request (a queue consumer that received the body and
        the header).

        Args:
            body: The body exactly as received.
            signature: The header's value, prefix included; None when it is missing.

        Raises:
            WebhookSignatureError: The header is missing, malformed, or does not match.
        """
        text = header_text(signature, self.header_name)
        if self.prefix:
            if not text.startswith(self.prefix):
                raise WebhookSignatureError(
                    "wrong_prefix",
                    f"The {self.header_name} header must start with {self.prefix!r}.",
                    header=self.header_name,
                )
            text = text[len(self.prefix) :]
        received = decode_signature(text, self.encoding, self.header_name)
        if not hmac.compare_digest(self.digest(body), received):
            raise _mismatch(self.header_name)

    def dependency(self) -> Callable[..., AsyncIterator[bytes]]:
        """A FastAPI dependency that verifies the request and yields its raw body.

        ``body: bytes = Depends(verifier.dependency())``; a request that fails
        verification is answered 400 before the route runs.
        """

        async def check(request: Request) -> None:
            self.verify(await request.body(), request.headers.get(self.header_name))

        return verifying_dependency(check)


def verifying_dependency(
    check: Callable[[Request], Any],
) -> Callable[..., AsyncIterator[bytes]]:
    """A dependency yielding the body once the awaitable ``check(request)`` passed."""

    async def verified_webhook_body(request: Request) -> AsyncIterator[bytes]:
        await check(request)
        yield await request.body()

    return verified_webhook_body


def _mismatch(header: str) -> WebhookSignatureError:
    return WebhookSignatureError(
        "mismatch", f"The signature in {header} does not match the body.", header=header
    )
