"""Settings with DEBUG on (http endpoints on loopback are accepted) and a VAPID key pair."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tempest.conf import Settings, settings
from tempest.webpush import WebPushDispatcher, generate_vapid_keys
from tempest.webpush.vapid import VapidKeyPair
from tests.contrib.webpush.push_service import PushService, push_service


@pytest.fixture
def vapid() -> VapidKeyPair:
    return generate_vapid_keys()


@pytest.fixture
def debug_settings(vapid: VapidKeyPair) -> Iterator[Settings]:
    value = Settings(
        DEBUG=True,
        VAPID_PRIVATE_KEY=vapid.private_key,
        VAPID_PUBLIC_KEY=vapid.public_key,
        VAPID_SUBJECT="mailto:ops@example.com",
    )
    settings.configure(value)  # type: ignore[attr-defined]
    yield value
    settings.reset()  # type: ignore[attr-defined]


@pytest.fixture
async def service(debug_settings: Settings) -> AsyncIterator[PushService]:
    async with push_service() as started:
        yield started


@pytest.fixture
async def dispatcher(debug_settings: Settings) -> AsyncIterator[WebPushDispatcher]:
    async with WebPushDispatcher.from_settings(debug_settings) as made:
        yield made
