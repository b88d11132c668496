"""Inbound webhooks: verify who sent a delivery before acting on it.

- :class:`WebhookSignatureVerifier`: an HMAC of the body in one header (GitHub...).
- :class:`RSAWebhookSignatureVerifier`: an RSA signature of the body.
- :class:`StripeWebhookVerifier`: Stripe's ``t=...,v1=...`` with a timestamp window.
- :class:`StandardWebhookVerifier` / :class:`StandardWebhookSigner`: Standard Webhooks
  (HMAC ``v1`` and Ed25519 ``v1a``), with replay protection.

Every failure is a :class:`WebhookSignatureError`, answered 400.
"""

from tempest.api.webhooks.errors import WebhookSignatureError
from tempest.api.webhooks.hmac_verifier import WebhookSignatureVerifier
from tempest.api.webhooks.replay import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    get_replay_store,
)
from tempest.api.webhooks.rsa_verifier import RSAWebhookSignatureVerifier
from tempest.api.webhooks.standard import (
    StandardWebhookSigner,
    StandardWebhookVerifier,
    VerifiedWebhook,
)
from tempest.api.webhooks.stripe_verifier import StripeWebhookVerifier

__all__ = [
    "MemoryReplayStore",
    "RSAWebhookSignatureVerifier",
    "RedisReplayStore",
    "ReplayStore",
    "StandardWebhookSigner",
    "StandardWebhookVerifier",
    "StripeWebhookVerifier",
    "VerifiedWebhook",
    "WebhookSignatureError",
    "WebhookSignatureVerifier",
    "get_replay_store",
]
