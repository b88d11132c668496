"""tempest.contrib.webpush: subscribe/unsubscribe routes and send_to_user, on a real database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tempest.contrib.webpush import send_to_user
from tempest.contrib.webpush.models import WebPushSubscription
from tempest.contrib.webpush.sending import reset_dispatcher
from tempest.db import get_database
from tempest.webpush import WebPushPayloadSchema
from tempest.webpush.vapid import VapidKeyPair
from tests.contrib.auth.conftest import AuthEnv, Build, build, smtp  # noqa: F401 - fixtures
from tests.contrib.webpush.push_service import PushService, push_service
from tests.contrib.webpush.test_schemas import GOOD_AUTH, GOOD_P256DH

pytestmark = pytest.mark.anyio


@dataclass
class App:
    env: AuthEnv
    push: PushService
    http: httpx.AsyncClient
    user_id: Any

    async def rows(self) -> list[WebPushSubscription]:
        async with get_database().request_session() as session:
            return list((await session.scalars(select(WebPushSubscription))).all())


@pytest.fixture
async def app(build: Build, vapid: VapidKeyPair) -> AsyncIterator[App]:  # noqa: F811
    env = await build(
        INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.webpush"],
        DEBUG=True,
        VAPID_PRIVATE_KEY=vapid.private_key,
        VAPID_PUBLIC_KEY=vapid.public_key,
        VAPID_SUBJECT="mailto:ops@example.com",
    )
    await env.active_user("ann@example.com")
    tokens = await env.tokens("ann@example.com")
    me = await env.http.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    async with push_service() as push:
        env.http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        yield App(env, push, env.http, me.json()["id"])
    await reset_dispatcher()


async def test_the_public_key_is_served(app: App, vapid: VapidKeyPair) -> None:
    response = await app.http.get("/api/webpush/vapid-public-key")
    assert response.json() == {"public_key": vapid.public_key}


async def test_subscribe_is_idempotent_on_the_endpoint_and_unsubscribe_removes(
    app: App,
) -> None:
    sub = app.push.subscribe("phone")
    first = await app.http.post("/api/webpush/subscriptions", json=sub)
    assert first.status_code == 201, first.text
    again = await app.http.post("/api/webpush/subscriptions", json=sub)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    (row,) = await app.rows()
    assert (row.endpoint, row.p256dh, row.auth) == (
        sub["endpoint"],
        sub["keys"]["p256dh"],
        sub["keys"]["auth"],
    )
    assert str(row.user_id) == app.user_id

    gone = await app.http.request(
        "DELETE", "/api/webpush/subscriptions", json={"endpoint": sub["endpoint"]}
    )
    assert gone.status_code == 204
    assert await app.rows() == []


async def test_subscribing_needs_a_signed_in_user(app: App) -> None:
    anonymous = await app.http.post(
        "/api/webpush/subscriptions",
        json=app.push.subscribe("x"),
        headers={"Authorization": ""},
    )
    assert anonymous.status_code == 401


BAD = {
    "p256dh off the curve": {"p256dh": "BA" + "A" * 85},
    "auth of 8 bytes": {"auth": "AAAAAAAAAAA"},
    "http endpoint off loopback": {"endpoint": "http://push.example.com/x"},
}


@pytest.mark.parametrize("change", BAD.values(), ids=BAD.keys())
async def test_malformed_subscriptions_are_422(app: App, change: dict[str, str]) -> None:
    body: dict[str, Any] = {
        "endpoint": change.get("endpoint", "https://push.example.com/x"),
        "keys": {
            "p256dh": change.get("p256dh", GOOD_P256DH),
            "auth": change.get("auth", GOOD_AUTH),
        },
    }
    response = await app.http.post("/api/webpush/subscriptions", json=body)
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"detail", "code", "details"}
    assert await app.rows() == []


async def test_send_to_user_delivers_and_removes_the_gone_subscriptions(app: App) -> None:
    live = app.push.subscribe("laptop")
    expired = app.push.subscribe("old-phone", status=410)
    for sub in (live, expired):
        assert (await app.http.post("/api/webpush/subscriptions", json=sub)).status_code == 201

    async with get_database().request_session() as session:
        report = await send_to_user(
            session, (await app.rows())[0].user_id, WebPushPayloadSchema(title="Hello", url="/x")
        )

    assert report.subscriptions == 2
    assert report.removed == [expired["endpoint"]]
    (delivery,) = app.push.delivered("laptop")
    assert json.loads(delivery.plaintext or b"") == {"title": "Hello", "url": "/x"}
    assert delivery.claims["aud"] == app.push.origin
    assert delivery.ttl == 86_400
    assert [row.endpoint for row in await app.rows()] == [live["endpoint"]]


async def test_the_checks_refuse_mismatched_or_missing_vapid_keys(app: App) -> None:
    from tempest.conf import override_settings
    from tempest.core.checks import registry
    from tempest.webpush import generate_vapid_keys

    def ids() -> set[str]:
        found = registry.run_checks(tags=["settings"], include_deployment_checks=True)
        return {m.id for m in found if m.id and m.id.startswith("webpush.")}

    assert ids() == set()
    with override_settings(VAPID_PUBLIC_KEY=generate_vapid_keys().public_key):
        assert ids() == {"webpush.E001"}  # not the private key's public half
    with override_settings(VAPID_PRIVATE_KEY="", VAPID_PUBLIC_KEY=""):
        assert ids() == {"webpush.E101"}
        missing = await app.http.get("/api/webpush/vapid-public-key")
        assert missing.status_code == 503
        assert missing.json()["code"] == "WEBPUSH_NOT_CONFIGURED"
        assert "VAPID_PRIVATE_KEY" in missing.json()["detail"]
