"""Webhooks signed with an RSA private key: :class:`RSAWebhookSignatureVerifier`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request

from tempest.api.webhooks._checks import Encoding, decode_signature, header_text
from tempest.api.webhooks.errors import WebhookSignatureError
from tempest.api.webhooks.hmac_verifier import verifying_dependency

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ["RSAWebhookSignatureVerifier"]

_HASHES = ("sha256", "sha384", "sha512")


class RSAWebhookSignatureVerifier:
    """Checks an RSA signature of the raw body against the sender's public key.

    PKCS#1 v1.5 over SHA-256 unless told otherwise (``padding="pss"``,
    ``hash_algorithm="sha512"``); PSS signatures of any salt length are accepted. Needs
    the ``cryptography`` package (``pip install "tempest-framework[webhooks]"``).
    """

    def __init__(
        self,
        public_key_pem: str | bytes,
        *,
        header_name: str = "X-Signature",
        prefix: str = "",
        encoding: Encoding = "hex",
        hash_algorithm: str = "sha256",
        padding: Literal["pkcs1v15", "pss"] = "pkcs1v15",
    ) -> None:
        """Load the key and configure the verifier.

        Args:
            public_key_pem: The sender's RSA public key, PEM (``-----BEGIN PUBLIC KEY``).
            header_name: The header carrying the signature.
            prefix: Text before the signature in the header, checked and stripped.
            encoding: How the signature is written: ``"hex"`` or ``"base64"``.
            hash_algorithm: ``"sha256"``, ``"sha384"`` or ``"sha512"``.
            padding: ``"pkcs1v15"`` or ``"pss"`` (MGF1 with the same hash).

        Raises:
            ValueError: A key that is not an RSA public key in PEM, or another option
                outside the lists above.
            ImportError: ``cryptography`` is not installed.
        """
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                "RSAWebhookSignatureVerifier needs cryptography: "
                'pip install "tempest-framework[webhooks]"'
            ) from exc
        if hash_algorithm not in _HASHES:
            raise ValueError(
                f"hash_algorithm must be one of {list(_HASHES)}, got {hash_algorithm!r}"
            )
        if padding not in ("pkcs1v15", "pss"):
            raise ValueError(f"padding must be 'pkcs1v15' or 'pss', got {padding!r}")
        if encoding not in ("hex", "base64"):
            raise ValueError(f"encoding must be 'hex' or 'base64', got {encoding!r}")
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError as exc:
            raise ValueError(f"public_key_pem is not a PEM public key: {exc}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"public_key_pem must be an RSA key, got {type(key).__name__}")
        self._key: RSAPublicKey = key
        algorithms: dict[str, type[hashes.HashAlgorithm]] = {
            "sha256": hashes.SHA256,
            "sha384": hashes.SHA384,
            "sha512": hashes.SHA512,
        }
        self._hash: Any = algorithms[hash_algorithm]()
        self.header_name = header_name
        self.prefix = prefix
        self.encoding: Encoding = encoding
        self.hash_algorithm = hash_algorithm
        self.padding = padding

    def _padding(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric import padding

        if self.padding == "pss":
            return padding.PSS(mgf=padding.MGF1(self._hash), salt_length=padding.PSS.AUTO)
        return padding.PKCS1v15()

    def verify(self, body: bytes, signature: str | bytes | None) -> None:
        """Check ``signature`` (the header's value) against ``body``.

        Args:
            body: The body exactly as received.
            signature: The header's value, prefix included; None when it is missing.

        Raises:
            WebhookSignatureError: The header is missing, malformed, or the signature is
                not the key owner's signature of ``body``.
        """
        from cryptography.exceptions import InvalidSignature

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
        try:
            self._key.verify(received, body, self._padding(), self._hash)
        except (InvalidSignature, ValueError):
            raise WebhookSignatureError(
                "mismatch",
                f"The signature in {self.header_name} does not match the body.",
                header=self.header_name,
            ) from None

    def dependency(self) -> Callable[..., AsyncIterator[bytes]]:
        """A FastAPI dependency that verifies the request and yields its raw body."""

        async def check(request: Request) -> None:
            self.verify(await request.body(), request.headers.get(self.header_name))

        return verifying_dependency(check)
