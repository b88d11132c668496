"""Stripe's signed webhooks: :class:`StripeWebhookVerifier`.

``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=...]``: the
timestamp is signed with the body, so a delivery older than the tolerance window is
refused; a header may carry several ``v1`` signatures (while a secret is rolled), and
one match is enough.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncIterator, Callable, Sequence

from starlette.requests import Request

from tempest.api.webhooks._checks import (
    MAX_SIGNATURES,
    check_tolerance,
    check_window,
    decode_signature,
    header_text,
    parse_timestamp,
    project_tolerance,
)
from tempest.api.webhooks.errors import WebhookSignatureError
from tempest.api.webhooks.hmac_verifier import verifying_dependency

__all__ = ["StripeWebhookVerifier"]

HEADER = "Stripe-Signature"


class StripeWebhookVerifier:
    """Checks Stripe's ``Stripe-Signature`` header, timestamp window included.

    ``StripeWebhookVerifier(secret="whsec_...")`` (the endpoint's signing secret from
    the Stripe dashboard, used as is). Pass several secrets while rolling one.
    """

    def __init__(
        self,
        secret: str | Sequence[str],
        *,
        tolerance_seconds: float | None = None,
        header_name: str = HEADER,
    ) -> None:
        """Configure the verifier.

        Args:
            secret: The endpoint's signing secret, or several (any one may match).
            tolerance_seconds: How far the signed timestamp may be from now, either way;
                None: ``WEBHOOK_TOLERANCE_SECONDS`` (300).
            header_name: The header carrying the signature.

        Raises:
            ValueError: No secret, an empty one, or a tolerance that is not positive.
        """
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not secrets or not all(secrets):
            raise ValueError("secret must be one or more non-empty strings")
        self._keys = [item.encode() for item in secrets]
        self.tolerance_seconds = (
            None if tolerance_seconds is None else check_tolerance(tolerance_seconds)
        )
        self.header_name = header_name

    def _signature(self, key: bytes, timestamp: int, body: bytes) -> bytes:
        return hmac.new(key, f"{timestamp}.".encode() + body, "sha256").digest()

    def sign(self, body: bytes, *, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` value Stripe would send for ``body``, with the first secret.

        Args:
            body: The body.
            timestamp: The Unix time to sign; now when None.
        """
        when = int(time.time()) if timestamp is None else timestamp
        return f"t={when},v1={self._signature(self._keys[0], when, body).hex()}"

    def verify(
        self, body: bytes, signature: str | bytes | None, *, now: float | None = None
    ) -> int:
        """Check the header's value against ``body``.

        Args:
            body: The body exactly as received.
            signature: The ``Stripe-Signature`` value; None when it is missing.
            now: The current Unix time (tests); the clock when None.

        Returns:
            The signed timestamp.

        Raises:
            WebhookSignatureError: The header is missing or malformed, its timestamp is
                outside the window, or no ``v1`` signature matches.
        """
        text = header_text(signature, self.header_name)
        timestamp, signatures = self._parse(text)
        tolerance = self.tolerance_seconds or project_tolerance()
        check_window(timestamp, tolerance, self.header_name, now)
        matched = False
        for key in self._keys:
            expected = self._signature(key, timestamp, body)
            for received in signatures:
                matched |= hmac.compare_digest(expected, received)
        if not matched:
            raise WebhookSignatureError(
                "mismatch",
                f"No v1 signature in {self.header_name} matches the body.",
                header=self.header_name,
            )
        return timestamp

    def _parse(self, text: str) -> tuple[int, list[bytes]]:
        items = text.split(",")
        if len(items) > 2 * MAX_SIGNATURES:
            raise self._malformed(f"carries more than {2 * MAX_SIGNATURES} items")
        timestamps: list[str] = []
        signatures: list[bytes] = []
        for item in items:
            name, equals, value = item.strip().partition("=")
            if not equals or not name:
                raise self._malformed("must be a list of scheme=value items")
            if name == "t":
                timestamps.append(value)
            elif name == "v1":
                if len(value) != 64:
                    raise WebhookSignatureError(
                        "bad_encoding",
                        f"A v1 signature in {self.header_name} is not 64 hex digits.",
                        header=self.header_name,
                    )
                signatures.append(decode_signature(value, "hex", self.header_name))
        if len(timestamps) != 1:
            raise self._malformed("must carry exactly one t= timestamp")
        if not signatures:
            raise self._malformed("carries no v1 signature")
        return parse_timestamp(timestamps[0], self.header_name), signatures

    def _malformed(self, what: str) -> WebhookSignatureError:
        return WebhookSignatureError(
            "malformed_header", f"The {self.header_name} header {what}.", header=self.header_name
        )

    def dependency(self) -> Callable[..., AsyncIterator[bytes]]:
        """A FastAPI dependency that verifies the request and yields its raw body."""

        async def check(request: Request) -> None:
            self.verify(await request.body(), request.headers.get(self.header_name))

        return verifying_dependency(check)
