"""Standard Webhooks (standardwebhooks.com, Svix and others): verifier and signer.

A delivery carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` and
``v1a,<base64 Ed25519>`` signatures of ``"<id>.<timestamp>.<body>"``. Keys are written
``whsec_<base64>`` (HMAC secret), ``whpk_<base64>`` (Ed25519 public key) and
``whsk_<base64>`` (Ed25519 secret key, for signing).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets as _secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from tempest.api.webhooks._checks import (
    MAX_SIGNATURES,
    check_tolerance,
    check_window,
    decode_canonical_base64,
    header_text,
    parse_timestamp,
    project_tolerance,
)
from tempest.api.webhooks.errors import WebhookSignatureError
from tempest.api.webhooks.replay import ReplayStore, get_replay_store

__all__ = ["StandardWebhookSigner", "StandardWebhookVerifier", "VerifiedWebhook"]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A delivery whose signature matched: its id and signed timestamp."""

    id: str
    timestamp: int


def _key_bytes(key: str, prefix: str) -> bytes:
    raw = key[len(prefix) :] if key.startswith(prefix) else key
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a {prefix} key must be base64 after its prefix") from None
    if not decoded:
        raise ValueError("a webhook key must not be empty")
    return decoded


def _ed25519() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            'Ed25519 webhook keys need cryptography: pip install "tempest-framework[webhooks]"'
        ) from exc
    return ed25519


def _signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


class StandardWebhookVerifier:
    """Checks Standard Webhooks deliveries and refuses a second delivery of one id.

    ``StandardWebhookVerifier("whsec_...")``, or several keys while rotating
    (``["whsec_new...", "whsec_old...", "whpk_..."]``): a delivery passes when any of its
    signatures matches any key. The timestamp must be within ``tolerance_seconds`` of
    now, and an id accepted once is refused (``replayed``) for twice that window, in the
    replay store (``WEBHOOK_REPLAY_URL``: Redis shared by every process, or memory).
    """

    def __init__(
        self,
        keys: str | Sequence[str],
        *,
        tolerance_seconds: float | None = None,
        replay_store: ReplayStore | None = None,
        replay_protection: bool = True,
        namespace: str = "standard",
    ) -> None:
        """Configure the verifier.

        Args:
            keys: ``whsec_`` secrets and/or ``whpk_`` public keys (a bare base64 string
                is a secret).
            tolerance_seconds: How far the timestamp may be from now, either way; None:
                ``WEBHOOK_TOLERANCE_SECONDS`` (300).
            replay_store: Where accepted ids are kept; None: the project's
                (:func:`~tempest.api.webhooks.replay.get_replay_store`).
            replay_protection: False accepts a second delivery of an id (the handler
                then deduplicates by id itself).
            namespace: Separates the ids of different senders in one store.

        Raises:
            ValueError: No key, or a key that is not valid base64 / Ed25519.
        """
        items = [keys] if isinstance(keys, str) else list(keys)
        if not items:
            raise ValueError("keys must hold at least one key")
        self._secrets: list[bytes] = []
        self._public: list[Any] = []
        for key in items:
            if key.startswith("whpk_"):
                self._public.append(
                    _ed25519().Ed25519PublicKey.from_public_bytes(_key_bytes(key, "whpk_"))
                )
            elif key.startswith("whsk_"):
                private = StandardWebhookSigner(key)._private
                self._public.append(private.public_key())
            else:
                self._secrets.append(_key_bytes(key, "whsec_"))
        self.tolerance_seconds = (
            None if tolerance_seconds is None else check_tolerance(tolerance_seconds)
        )
        self.replay_store = replay_store
        self.replay_protection = replay_protection
        self.namespace = namespace

    def verify_signature(
        self, body: bytes, headers: Mapping[str, str], *, now: float | None = None
    ) -> VerifiedWebhook:
        """Check the signature and the timestamp, without the replay check.

        Args:
            body: The body exactly as received.
            headers: The request's headers (any mapping; names are case-insensitive).
            now: The current Unix time (tests); the clock when None.

        Raises:
            WebhookSignatureError: A header is missing or malformed, the timestamp is
                outside the window, or no signature matches.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = header_text(lowered.get(ID_HEADER), ID_HEADER)
        if len(msg_id) > MAX_ID_LENGTH or not msg_id.isprintable():
            raise WebhookSignatureError(
                "malformed_header",
                f"The {ID_HEADER} header must be printable and at most {MAX_ID_LENGTH} characters.",
                header=ID_HEADER,
            )
        timestamp = parse_timestamp(
            header_text(lowered.get(TIMESTAMP_HEADER), TIMESTAMP_HEADER), TIMESTAMP_HEADER
        )
        signatures = self._parse(header_text(lowered.get(SIGNATURE_HEADER), SIGNATURE_HEADER))
        tolerance = self.tolerance_seconds or project_tolerance()
        check_window(timestamp, tolerance, TIMESTAMP_HEADER, now)
        content = _signed_content(msg_id, timestamp, body)
        if not self._matches(content, signatures):
            raise WebhookSignatureError(
                "mismatch",
                f"No signature in {SIGNATURE_HEADER} matches the body.",
                header=SIGNATURE_HEADER,
            )
        return VerifiedWebhook(msg_id, timestamp)

    async def verify(
        self, body: bytes, headers: Mapping[str, str], *, now: float | None = None
    ) -> VerifiedWebhook:
        """Check the signature, the timestamp, and that the id was not accepted before.

        The id is recorded as accepted (atomically: of concurrent deliveries of one id,
        one passes). Use it where there is no request, e.g. in a queue consumer.

        Raises:
            WebhookSignatureError: As :meth:`verify_signature`, or ``replayed``.
            ServiceUnavailableException: The replay store's Redis is unreachable (503:
                the sender retries later).
        """
        verified = self.verify_signature(body, headers, now=now)
        if self.replay_protection:
            await self._remember(verified)
        return verified

    def _store(self) -> ReplayStore:
        return self.replay_store if self.replay_store is not None else get_replay_store()

    def _replay_key(self, msg_id: str) -> str:
        return f"{self.namespace}:{msg_id}"

    async def _remember(self, verified: VerifiedWebhook) -> None:
        ttl = 2 * (self.tolerance_seconds or project_tolerance())
        try:
            new = await self._store().first_seen(self._replay_key(verified.id), ttl)
        except (OSError, TimeoutError) as error:
            raise _unavailable(error) from error
        except Exception as error:
            if type(error).__module__.startswith("redis"):
                raise _unavailable(error) from error
            raise
        if not new:
            raise WebhookSignatureError(
                "replayed",
                f"The delivery {verified.id!r} was already accepted.",
                header=ID_HEADER,
            )

    async def forget(self, msg_id: str) -> None:
        """Let a later delivery of ``msg_id`` pass again (its processing failed)."""
        await self._store().forget(self._replay_key(msg_id))

    def _parse(self, text: str) -> list[tuple[str, bytes]]:
        entries = text.split()
        if len(entries) > MAX_SIGNATURES:
            raise WebhookSignatureError(
                "malformed_header",
                f"The {SIGNATURE_HEADER} header carries more than {MAX_SIGNATURES} signatures.",
                header=SIGNATURE_HEADER,
            )
        parsed: list[tuple[str, bytes]] = []
        for entry in entries:
            version, comma, value = entry.partition(",")
            if not comma or not version or not value:
                raise WebhookSignatureError(
                    "malformed_header",
                    f"Each signature in {SIGNATURE_HEADER} must be '<version>,<base64>'.",
                    header=SIGNATURE_HEADER,
                )
            if version not in ("v1", "v1a"):
                continue  # a later version, unknown here: another signature may match
            try:
                parsed.append((version, decode_canonical_base64(value)))
            except (binascii.Error, ValueError):
                raise WebhookSignatureError(
                    "bad_encoding",
                    f"A signature in {SIGNATURE_HEADER} is not valid base64.",
                    header=SIGNATURE_HEADER,
                ) from None
        if not parsed:
            raise WebhookSignatureError(
                "malformed_header",
                f"The {SIGNATURE_HEADER} header carries no v1 or v1a signature.",
                header=SIGNATURE_HEADER,
            )
        return parsed

    def _matches(self, content: bytes, signatures: list[tuple[str, bytes]]) -> bool:
        matched = False
        digests = [hmac.new(key, content, "sha256").digest() for key in self._secrets]
        for version, signature in signatures:
            if version == "v1":
                for digest in digests:
                    matched |= hmac.compare_digest(digest, signature)
            elif len(signature) == 64:
                for public in self._public:
                    matched |= _ed25519_valid(public, signature, content)
        return matched

    def dependency(self) -> Callable[..., AsyncIterator[bytes]]:
        """A FastAPI dependency that verifies the request and yields its raw body.

        When the route raises, the id is forgotten again, so that the sender's retry of
        the delivery is not refused as a replay.
        """

        async def verified_webhook_body(request: Request) -> AsyncIterator[bytes]:
            body = await request.body()
            verified = await self.verify(body, request.headers)
            try:
                yield body
            except BaseException:
                if self.replay_protection:
                    await self.forget(verified.id)
                raise

        return verified_webhook_body


def _ed25519_valid(public: Any, signature: bytes, content: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public.verify(signature, content)
    except InvalidSignature:
        return False
    return True


def _unavailable(error: BaseException) -> Exception:
    from tempest.exceptions import ServiceUnavailableException

    return ServiceUnavailableException(
        "Webhook replay protection is unavailable; retry later.",
        service="webhook replay store",
        details={"error": type(error).__name__},
    )


class StandardWebhookSigner:
    """Signs deliveries the Standard Webhooks way: for tests and for senders.

    ``StandardWebhookSigner("whsec_...")`` signs ``v1`` (HMAC-SHA256);
    ``StandardWebhookSigner("whsk_...")`` signs ``v1a`` (Ed25519).
    """

    def __init__(self, key: str) -> None:
        """Load the key.

        Raises:
            ValueError: The key is not valid base64, or not a 32- or 64-byte Ed25519 key.
        """
        self._private: Any = None
        self._secret = b""
        if key.startswith("whsk_"):
            raw = _key_bytes(key, "whsk_")
            if len(raw) not in (32, 64):
                raise ValueError("a whsk_ key must hold 32 (seed) or 64 (seed + public) bytes")
            self._private = _ed25519().Ed25519PrivateKey.from_private_bytes(raw[:32])
        else:
            self._secret = _key_bytes(key, "whsec_")

    @staticmethod
    def generate_secret() -> str:
        """A new random ``whsec_`` HMAC secret (32 bytes)."""
        return "whsec_" + base64.b64encode(_secrets.token_bytes(32)).decode()

    @staticmethod
    def generate_ed25519_keys() -> tuple[str, str]:
        """A new Ed25519 key pair: (``whsk_`` secret key, ``whpk_`` public key)."""
        from cryptography.hazmat.primitives import serialization

        private = _ed25519().Ed25519PrivateKey.generate()
        raw = serialization.Encoding.Raw
        seed = private.private_bytes(
            raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        public = private.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
        return (
            "whsk_" + base64.b64encode(seed + public).decode(),
            "whpk_" + base64.b64encode(public).decode(),
        )

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """One ``v1,...`` or ``v1a,...`` signature of the delivery."""
        content = _signed_content(msg_id, timestamp, body)
        if self._private is not None:
            return "v1a," + base64.b64encode(self._private.sign(content)).decode()
        return "v1," + base64.b64encode(hmac.new(self._secret, content, "sha256").digest()).decode()

    def sign(
        self, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """The three headers of a delivery of ``body``.

        Args:
            body: The body.
            msg_id: The delivery's id; a new ``msg_...`` id when None.
            timestamp: The Unix time to sign; now when None.
        """
        identifier = msg_id if msg_id is not None else "msg_" + _secrets.token_urlsafe(16)
        when = int(time.time()) if timestamp is None else timestamp
        return {
            ID_HEADER: identifier,
            TIMESTAMP_HEADER: str(when),
            SIGNATURE_HEADER: self.signature(identifier, when, body),
        }
