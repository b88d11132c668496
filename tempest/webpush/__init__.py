"""Web Push: :class:`WebPushDispatcher` and the subscription and payload schemas.

Messages are encrypted with aes128gcm (RFC 8291) and signed with VAPID (RFC 8292), sent
with ``httpx`` on the event loop. Install with ``pip install "tempest-framework[webpush]"``.
The ``tempest.contrib.webpush`` app stores subscriptions and serves subscribe/unsubscribe
routes. Names are resolved lazily (PEP 562).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tempest._lazy import lazy_attributes

# Public name -> the module that defines it, loaded on first use. The TYPE_CHECKING block
# below imports exactly these names, and __all__ lists them (tests/test_exports.py).
_LAZY: dict[str, str] = {
    "WebPushDispatcher": "tempest.webpush.dispatcher",
    "WebPushError": "tempest.webpush.errors",
    "WebPushGoneError": "tempest.webpush.errors",
    "WebPushPayloadTooLargeError": "tempest.webpush.errors",
    "WebPushRateLimitedError": "tempest.webpush.errors",
    "WebPushSubscriptionSchema": "tempest.webpush.schemas",
    "WebPushKeysSchema": "tempest.webpush.schemas",
    "WebPushPayloadSchema": "tempest.webpush.schemas",
    "VapidKeyPair": "tempest.webpush.vapid",
    "VapidSigner": "tempest.webpush.vapid",
    "generate_vapid_keys": "tempest.webpush.vapid",
}

__all__ = [*_LAZY]

_load = lazy_attributes(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    return _load(name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - the table's names, for type checkers and IDEs
    from tempest.webpush.dispatcher import WebPushDispatcher as WebPushDispatcher
    from tempest.webpush.errors import (
        WebPushError as WebPushError,
        WebPushGoneError as WebPushGoneError,
        WebPushPayloadTooLargeError as WebPushPayloadTooLargeError,
        WebPushRateLimitedError as WebPushRateLimitedError,
    )
    from tempest.webpush.schemas import (
        WebPushKeysSchema as WebPushKeysSchema,
        WebPushPayloadSchema as WebPushPayloadSchema,
        WebPushSubscriptionSchema as WebPushSubscriptionSchema,
    )
    from tempest.webpush.vapid import (
        VapidKeyPair as VapidKeyPair,
        VapidSigner as VapidSigner,
        generate_vapid_keys as generate_vapid_keys,
    )
