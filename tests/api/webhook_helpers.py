"""Shared by the webhook tests: an app with one route per verifier, and a raw ASGI caller."""

from __future__ import annotations

import json
from collections.abc import Iterable, MutableMapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI

from tempest.api import register_exception_handlers
from tempest.api.webhooks import (
    MemoryReplayStore,
    ReplayStore,
    RSAWebhookSignatureVerifier,
    StandardWebhookVerifier,
    StripeWebhookVerifier,
    WebhookSignatureVerifier,
)

GITHUB_SECRET = "It's a Secret to Everybody"
STRIPE_SECRET = "whsec_test_secret_for_tempest"
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)

github = WebhookSignatureVerifier(
    secret=GITHUB_SECRET, algorithm="sha256", header_name="X-Hub-Signature-256", prefix="sha256="
)
shopify = WebhookSignatureVerifier(
    secret="shpss_secret", header_name="X-Shopify-Hmac-Sha256", encoding="base64"
)
apple = RSAWebhookSignatureVerifier(
    public_key_pem=RSA_PUBLIC_PEM, header_name="X-Apple-Signature", encoding="base64"
)
apple_pss = RSAWebhookSignatureVerifier(
    public_key_pem=RSA_PUBLIC_PEM,
    header_name="X-Signature",
    hash_algorithm="sha512",
    padding="pss",
)
stripe_verifier = StripeWebhookVerifier(STRIPE_SECRET)


def make_app(replay_store: ReplayStore | None = None) -> tuple[FastAPI, StandardWebhookVerifier]:
    """One route per verifier, each answering the body's length."""
    standard = StandardWebhookVerifier(
        STANDARD_SECRET, replay_store=replay_store or MemoryReplayStore()
    )
    app = FastAPI()
    register_exception_handlers(app)
    routes: dict[str, Any] = {
        "/github": github,
        "/shopify": shopify,
        "/apple": apple,
        "/apple-pss": apple_pss,
        "/stripe": stripe_verifier,
        "/standard": standard,
    }
    for path, verifier in routes.items():

        async def receive(body: bytes = Depends(verifier.dependency())) -> dict[str, int]:
            return {"received": len(body)}

        app.post(path)(receive)
    return app, standard


async def call(
    app: FastAPI, path: str, body: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` with raw header bytes straight into the ASGI app (no client checks)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    try:
        await app(scope, receive, send)
    except Exception:  # Starlette re-raises after answering 500: the status says it all
        if status != 500:
            raise
    return status, json.loads(b"".join(chunks) or b"null")
