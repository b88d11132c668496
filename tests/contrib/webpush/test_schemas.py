"""Subscription validation: malformed keys and endpoints are refused (and round-trip JSON)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tempest.conf import Settings, settings
from tempest.webpush import WebPushSubscriptionSchema
from tempest.webpush.schemas import b64url_encode

GOOD_P256DH = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
GOOD_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"


def subscription(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "expirationTime": None,
        "keys": {"p256dh": GOOD_P256DH, "auth": GOOD_AUTH},
    }
    keys = {k: changes.pop(k) for k in ("p256dh", "auth") if k in changes}
    value["keys"] |= keys
    return value | changes


def test_the_browser_json_round_trips() -> None:
    parsed = WebPushSubscriptionSchema.model_validate(subscription(expirationTime=1.5e12))
    assert parsed.expiration_time == 1.5e12
    assert parsed.model_dump() == subscription(expirationTime=1.5e12)
    assert parsed.audience == "https://fcm.googleapis.com"


BAD_KEYS = {
    "p256dh not base64": {"p256dh": "not base64!"},
    "p256dh compressed point": {"p256dh": b64url_encode(b"\x02" + bytes(32))},
    "p256dh 65 bytes off the curve": {"p256dh": b64url_encode(b"\x04" + bytes(64))},
    "p256dh too short": {"p256dh": GOOD_P256DH[:40]},
    "auth 15 bytes": {"auth": b64url_encode(bytes(15))},
    "auth 17 bytes": {"auth": b64url_encode(bytes(17))},
    "auth empty": {"auth": ""},
    "auth not base64": {"auth": "%%%%%%%%%%%%%%%%%%%%%%"},
}


@pytest.mark.parametrize("change", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_malformed_keys_are_refused(change: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        WebPushSubscriptionSchema.model_validate(subscription(**change))


BAD_ENDPOINTS = {
    "http remote": "http://push.example.com/x",
    "ftp": "ftp://push.example.com/x",
    "no host": "https:///x",
    "not a url": "push service",
    "private address": "https://10.0.0.7/push/x",
    "link-local (cloud metadata)": "https://169.254.169.254/latest/meta-data",
    "loopback without DEBUG": "https://127.0.0.1:8443/push/x",
    "IPv6 loopback": "https://[::1]/push/x",
    "IPv4-mapped private": "https://[::ffff:192.168.1.10]/push/x",
    "localhost": "https://localhost/push/x",
    "unspecified": "https://0.0.0.0/push/x",
    "too long": "https://push.example.com/" + "x" * 2048,
}


@pytest.mark.parametrize("endpoint", BAD_ENDPOINTS.values(), ids=BAD_ENDPOINTS.keys())
def test_bad_endpoints_are_refused(endpoint: str) -> None:
    with pytest.raises(ValidationError):
        WebPushSubscriptionSchema.model_validate(subscription(endpoint=endpoint))


def test_http_on_loopback_is_accepted_only_with_debug() -> None:
    local = subscription(endpoint="http://127.0.0.1:8080/push/x")
    settings.configure(Settings(DEBUG=False))  # type: ignore[attr-defined]
    try:
        with pytest.raises(ValidationError, match="https"):
            WebPushSubscriptionSchema.model_validate(local)
        settings.configure(Settings(DEBUG=True))  # type: ignore[attr-defined]
        WebPushSubscriptionSchema.model_validate(local)
        with pytest.raises(ValidationError):
            WebPushSubscriptionSchema.model_validate(
                subscription(endpoint="http://10.0.0.1/push/x")
            )
    finally:
        settings.reset()  # type: ignore[attr-defined]


def test_the_app_refuses_a_custom_user_model() -> None:
    import tempest.contrib.webpush
    from tempest.conf import ImproperlyConfigured
    from tempest.contrib.webpush.apps import WebPushConfig

    # ready() alone: populating the registry would import the auth app's models under the
    # custom user model, and they would stay so for the rest of the run.
    config = WebPushConfig("tempest.contrib.webpush", tempest.contrib.webpush)
    settings.configure(Settings(AUTH_USER_MODEL="accounts.Member"))  # type: ignore[attr-defined]
    try:
        with pytest.raises(ImproperlyConfigured, match=r"AUTH_USER_MODEL is 'accounts\.Member'"):
            config.ready()
    finally:
        settings.reset()  # type: ignore[attr-defined]
