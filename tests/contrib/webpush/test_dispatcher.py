"""WebPushDispatcher against a loopback push service that verifies and decrypts like a browser."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import ValidationError

from tempest.conf import Settings
from tempest.webpush import (
    WebPushDispatcher,
    WebPushError,
    WebPushGoneError,
    WebPushPayloadSchema,
    WebPushPayloadTooLargeError,
    WebPushRateLimitedError,
    WebPushSubscriptionSchema,
)
from tempest.webpush.encryption import MAX_PLAINTEXT_BYTES
from tempest.webpush.vapid import VapidKeyPair
from tests.contrib.webpush.push_service import PushService, push_service

pytestmark = pytest.mark.anyio


async def test_a_push_is_decrypted_with_its_payload_vapid_claims_and_ttl(
    service: PushService, dispatcher: WebPushDispatcher, vapid: VapidKeyPair
) -> None:
    subscription = WebPushSubscriptionSchema.model_validate(service.subscribe("alice"))
    payload = WebPushPayloadSchema(title="Paid", body="Order 7 paid.", data={"orderId": "7"})

    status = await dispatcher.send(subscription, payload, urgency="high", topic="order-7")

    assert status == 201
    assert not service.problems
    (delivery,) = service.delivered("alice")
    assert json.loads(delivery.plaintext or b"") == {
        "title": "Paid",
        "body": "Order 7 paid.",
        "data": {"orderId": "7"},
    }
    assert delivery.claims["aud"] == service.origin
    assert delivery.claims["sub"] == "mailto:ops@example.com"
    assert time.time() < delivery.claims["exp"] <= time.time() + 24 * 3600
    assert delivery.public_key == vapid.public_key
    assert delivery.ttl == 86_400  # the default: one day, never 0
    assert delivery.headers["urgency"] == "high"
    assert delivery.headers["topic"] == "order-7"
    assert delivery.body_size <= 4096


async def test_the_vapid_token_is_reused_for_the_same_audience(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    for name in ("a", "b", "c"):
        await dispatcher.send(service.subscribe(name), {"n": name}, ttl_seconds=60)
    async with push_service() as other:
        await dispatcher.send(other.subscribe("d"), "hi")

    tokens = {d.token for d in service.deliveries}
    assert len(tokens) == 1  # signed once for three messages
    assert other.deliveries[0].token not in tokens  # another audience, another token
    assert other.deliveries[0].claims["aud"] == other.origin
    assert dispatcher.vapid.signed == 2
    assert {d.ttl for d in service.deliveries} == {60}


async def test_a_token_near_expiry_is_signed_again(debug_settings: Settings) -> None:
    signer = WebPushDispatcher.from_settings(
        debug_settings, vapid_token_lifetime_seconds=3600
    ).vapid
    now = time.time()
    first = signer.token("https://push.example", now=now)
    assert signer.token("https://push.example", now=now + 1000) == first
    assert signer.token("https://push.example", now=now + 1900) != first  # < 30 min left


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_raises_gone(
    service: PushService, dispatcher: WebPushDispatcher, status: int
) -> None:
    with pytest.raises(WebPushGoneError) as raised:
        await dispatcher.send(service.subscribe("old", status=status), {"x": 1})
    assert raised.value.status_code == status
    assert raised.value.endpoint == f"{service.origin}/push/old"


async def test_send_many_returns_the_gone_endpoints_and_goes_on(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    subs = [
        service.subscribe("ok1"),
        service.subscribe("gone", status=410),
        service.subscribe("broken", status=500),
        service.subscribe("ok2"),
    ]
    gone = await dispatcher.send_many(subs, WebPushPayloadSchema(title="Hi"))
    assert gone == [subs[1]["endpoint"]]
    assert {d.receiver for d in service.deliveries} == {"ok1", "gone", "broken", "ok2"}


async def test_a_413_answer_is_a_payload_too_large_error(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    with pytest.raises(WebPushPayloadTooLargeError, match="413"):
        await dispatcher.send(service.subscribe("small", status=413), b"x" * 100)


async def test_a_payload_above_the_limit_is_refused_before_sending(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    sub = service.subscribe("big")
    await dispatcher.send(sub, b"x" * MAX_PLAINTEXT_BYTES)  # the largest that fits
    assert service.delivered("big")[0].body_size == 4096
    with pytest.raises(WebPushPayloadTooLargeError, match="3993"):
        await dispatcher.send(sub, b"x" * (MAX_PLAINTEXT_BYTES + 1))
    with pytest.raises(WebPushPayloadTooLargeError):
        await dispatcher.send_many([sub, sub], b"x" * 5000)
    assert len(service.deliveries) == 1


async def test_a_429_answer_carries_retry_after(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    sub = service.subscribe("busy", status=429, **{"Retry-After": "30"})
    with pytest.raises(WebPushRateLimitedError, match="Retry-After: 30 s") as raised:
        await dispatcher.send(sub, b"x")
    assert raised.value.retry_after == 30.0
    assert raised.value.status_code == 429


async def test_send_many_keeps_at_most_concurrency_messages_in_flight(
    debug_settings: Settings,
) -> None:
    async with push_service(delay=0.05) as slow:
        subs = [slow.subscribe(f"s{i}") for i in range(20)]
        async with WebPushDispatcher.from_settings(debug_settings, concurrency=4) as sender:
            assert await sender.send_many(subs, {"hello": "all"}) == []
    assert len(slow.deliveries) == 20
    assert slow.max_in_flight == 4
    assert all(d.plaintext == b'{"hello":"all"}' for d in slow.deliveries)


async def test_an_unreachable_push_service_is_a_webpush_error(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    sub = service.subscribe("x")
    await service.stop()
    with pytest.raises(WebPushError, match="Could not reach the push service"):
        await dispatcher.send(sub, b"x")


def test_ttl_zero_is_refused(debug_settings: Settings, vapid: VapidKeyPair) -> None:
    with pytest.raises(ValueError, match="TTL 0"):
        WebPushDispatcher(vapid.private_key, vapid_subject="mailto:a@b.c", ttl_seconds=0)
    with pytest.raises(ValidationError):
        Settings(WEBPUSH_DEFAULT_TTL_SECONDS=0)


def test_a_public_key_that_is_not_the_private_keys_half_is_refused(
    debug_settings: Settings, vapid: VapidKeyPair
) -> None:
    from tempest.webpush import generate_vapid_keys

    with pytest.raises(WebPushError, match="not the public half"):
        WebPushDispatcher(
            vapid.private_key,
            vapid_subject="mailto:a@b.c",
            vapid_public_key=generate_vapid_keys().public_key,
        )
    with pytest.raises(WebPushError, match="mailto: or https:"):
        WebPushDispatcher(vapid.private_key, vapid_subject="ops@example.com")
    with pytest.raises(WebPushError, match="not a P-256 private key"):
        WebPushDispatcher("not-a-key", vapid_subject="mailto:a@b.c")


async def test_bad_options_are_refused_before_any_message(
    service: PushService, dispatcher: WebPushDispatcher
) -> None:
    subs = [service.subscribe("a"), service.subscribe("b")]
    with pytest.raises(ValueError, match="TTL 0"):
        await dispatcher.send_many(subs, b"x", ttl_seconds=0)
    with pytest.raises(ValueError, match="urgency"):
        await dispatcher.send_many(subs, b"x", urgency="urgent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="topic"):
        await dispatcher.send(subs[0], b"x", topic="has spaces")
    assert service.deliveries == []
