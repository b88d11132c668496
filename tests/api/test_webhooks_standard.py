"""Standard Webhooks: interop with the ``standardwebhooks`` package, Ed25519, rotation, replays.

The ``standardwebhooks`` package is the oracle: its signatures verify here and ours verify
there. Replay protection is atomic on Redis: of 20 concurrent deliveries of one id (in one
process, and across two processes), exactly one is accepted.
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import standardwebhooks
from fastapi import Depends, FastAPI

import tempest
from tempest.api import register_exception_handlers
from tempest.api.webhooks import (
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    StandardWebhookSigner,
    StandardWebhookVerifier,
    WebhookSignatureError,
    get_replay_store,
)
from tempest.conf import Settings
from tests.api.webhook_helpers import STANDARD_SECRET, call, make_app
from tests.conftest import service_url
from tests.helpers import REPO
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.anyio

BODY = b'{"type":"invoice.paid","data":{"id":42}}'
SIGNER = StandardWebhookSigner(STANDARD_SECRET)


@asynccontextmanager
async def redis_replay_store() -> AsyncIterator[RedisReplayStore]:
    """A store on the test Redis under a prefix of its own, emptied afterwards."""
    store = RedisReplayStore.from_url(
        service_url("TEMPEST_TEST_REDIS_URL"), prefix=f"test:webhooks:{uuid.uuid4().hex}:"
    )
    try:
        yield store
    finally:
        keys = [key async for key in store.client.scan_iter(match=store.prefix + "*")]
        if keys:
            await store.client.delete(*keys)
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ReplayStore]:
    """Each test runs on both stores."""
    if request.param == "memory":
        yield MemoryReplayStore()
        return
    async with redis_replay_store() as redis_store:
        yield redis_store


def raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]


async def deliver(app: FastAPI, headers: dict[str, str], body: bytes = BODY) -> tuple[int, Any]:
    return await call(app, "/standard", body, raw(headers))


def assert_refused(answer: tuple[int, Any], reason: str) -> None:
    status, payload = answer
    assert status == 400, payload
    assert payload["code"] == "INVALID_WEBHOOK_SIGNATURE"
    assert payload["details"]["reason"] == reason, payload


APP, VERIFIER = make_app()


# -- interoperability ----------------------------------------------------------------------


async def test_the_standardwebhooks_package_signature_verifies_here() -> None:
    oracle = standardwebhooks.Webhook(STANDARD_SECRET)
    now = int(time.time())
    msg_id = "msg_" + uuid.uuid4().hex
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": oracle.sign(msg_id, datetime.fromtimestamp(now, UTC), BODY),
    }
    assert await deliver(APP, headers) == (200, {"received": len(BODY)})


def test_our_signature_verifies_in_the_standardwebhooks_package() -> None:
    headers = SIGNER.sign(BODY)
    assert standardwebhooks.Webhook(STANDARD_SECRET).verify(BODY, headers) == {
        "type": "invoice.paid",
        "data": {"id": 42},
    }


async def test_a_signature_spelled_non_canonically_is_refused() -> None:
    # 32 bytes take 43 base64 characters: the last one carries 2 unused bits, so four
    # spellings decode alike. The reference libraries compare text: only one verifies.
    headers = SIGNER.sign(BODY, msg_id="msg_" + uuid.uuid4().hex)
    signature = headers["webhook-signature"]
    assert signature.startswith("v1,") and signature.endswith("=") and len(signature) == 47
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(signature[-2])
    twin = signature[:-2] + alphabet[last ^ 1] + "="
    assert base64.b64decode(twin[3:]) == base64.b64decode(signature[3:])
    assert_refused(await deliver(APP, {**headers, "webhook-signature": twin}), "bad_encoding")
    assert await deliver(APP, headers) == (200, {"received": len(BODY)})


def test_importable_from_tempest() -> None:
    assert tempest.StandardWebhookVerifier is StandardWebhookVerifier
    assert tempest.StandardWebhookSigner is StandardWebhookSigner


async def test_ed25519_v1a_signatures() -> None:
    secret_key, public_key = StandardWebhookSigner.generate_ed25519_keys()
    verifier = StandardWebhookVerifier(public_key, replay_store=MemoryReplayStore())
    headers = StandardWebhookSigner(secret_key).sign(BODY)
    assert headers["webhook-signature"].startswith("v1a,")
    assert (await verifier.verify(BODY, headers)).id == headers["webhook-id"]
    with pytest.raises(WebhookSignatureError) as caught:
        verifier.verify_signature(BODY + b" ", StandardWebhookSigner(secret_key).sign(BODY))
    assert caught.value.reason == "mismatch"


def test_a_32_byte_ed25519_seed_signs_too() -> None:
    secret_key, public_key = StandardWebhookSigner.generate_ed25519_keys()
    seed_only = "whsk_" + base64.b64encode(base64.b64decode(secret_key[5:])[:32]).decode()
    verifier = StandardWebhookVerifier(public_key)
    verifier.verify_signature(BODY, StandardWebhookSigner(seed_only).sign(BODY))


def test_key_rotation_several_keys_and_several_signatures() -> None:
    new_secret = StandardWebhookSigner.generate_secret()
    secret_key, public_key = StandardWebhookSigner.generate_ed25519_keys()
    verifier = StandardWebhookVerifier([new_secret, STANDARD_SECRET, public_key])
    for key in (new_secret, STANDARD_SECRET, secret_key):
        verifier.verify_signature(BODY, StandardWebhookSigner(key).sign(BODY))
    headers = StandardWebhookSigner(new_secret).sign(BODY)
    old = SIGNER.signature(headers["webhook-id"], int(headers["webhook-timestamp"]), BODY)
    bogus = "v1," + base64.b64encode(b"x" * 32).decode()
    headers["webhook-signature"] = f"{bogus} v2,unknown {old}"
    StandardWebhookVerifier(STANDARD_SECRET).verify_signature(BODY, headers)


def test_bad_keys_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="base64"):
        StandardWebhookVerifier("whsec_not*base64")
    with pytest.raises(ValueError, match="at least one"):
        StandardWebhookVerifier([])
    with pytest.raises(ValueError):
        StandardWebhookVerifier("whpk_" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError, match="32"):
        StandardWebhookSigner("whsk_" + base64.b64encode(b"x" * 10).decode())


# -- bad input: each a 400 -----------------------------------------------------------------


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_missing_header(missing: str) -> None:
    headers = SIGNER.sign(BODY)
    del headers[missing]
    assert_refused(await deliver(APP, headers), "missing_header")


async def test_stale_timestamp() -> None:
    headers = SIGNER.sign(BODY, timestamp=int(time.time()) - 301)
    assert_refused(await deliver(APP, headers), "stale_timestamp")


async def test_future_timestamp() -> None:
    headers = SIGNER.sign(BODY, timestamp=int(time.time()) + 301)
    assert_refused(await deliver(APP, headers), "future_timestamp")


async def test_a_timestamp_with_a_leading_zero_is_refused_though_it_is_signed() -> None:
    headers = SIGNER.sign(BODY, msg_id="msg_" + uuid.uuid4().hex)
    zero = {**headers, "webhook-timestamp": "0" + headers["webhook-timestamp"]}
    assert_refused(await deliver(APP, zero), "malformed_header")


@pytest.mark.parametrize("timestamp", ["-1", "1.5", "abc", " ", "1e9", "9" * 20, "١٢٣"])
async def test_malformed_timestamp(timestamp: str) -> None:
    headers = SIGNER.sign(BODY)
    headers["webhook-timestamp"] = timestamp
    answer = await call(
        APP, "/standard", BODY, [(k.encode(), v.encode()) for k, v in headers.items()]
    )
    assert_refused(answer, "malformed_header")


async def test_body_changed_by_one_byte() -> None:
    headers = SIGNER.sign(BODY)
    assert_refused(await deliver(APP, headers, BODY.replace(b"42", b"43")), "mismatch")


async def test_the_id_is_signed() -> None:
    headers = SIGNER.sign(BODY)
    headers["webhook-id"] += "x"
    assert_refused(await deliver(APP, headers), "mismatch")


async def test_replayed_id() -> None:
    headers = SIGNER.sign(BODY)
    assert (await deliver(APP, headers))[0] == 200
    assert_refused(await deliver(APP, headers), "replayed")


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("v1,not*base64", "bad_encoding"),
        ("v1", "malformed_header"),
        ("v1,", "malformed_header"),
        (",abc", "malformed_header"),
        ("v2,abcd", "malformed_header"),  # no v1/v1a signature at all
        (" ".join(["v1,AAAA"] * 17), "malformed_header"),
        ("v1," + base64.b64encode(b"\0" * 32).decode(), "mismatch"),
        ("v1a," + base64.b64encode(b"\0" * 64).decode(), "mismatch"),
        ("sha256=" + "a" * 64, "malformed_header"),
    ],
)
async def test_malformed_signature_header(signature: str, reason: str) -> None:
    headers = SIGNER.sign(BODY)
    headers["webhook-signature"] = signature
    assert_refused(await deliver(APP, headers), reason)


async def test_non_ascii_headers() -> None:
    headers = SIGNER.sign(BODY)
    headers["webhook-signature"] = "v1,é" + headers["webhook-signature"][4:]
    assert_refused(await deliver(APP, headers), "malformed_header")


async def test_huge_headers() -> None:
    for name in ("webhook-id", "webhook-signature"):
        headers = SIGNER.sign(BODY)
        headers[name] = "v1," + "A" * 50_000
        assert_refused(await deliver(APP, headers), "header_too_long")
    headers = SIGNER.sign(BODY, msg_id="m" * 300)
    assert_refused(await deliver(APP, headers), "malformed_header")


# -- replay protection ---------------------------------------------------------------------


async def test_twenty_concurrent_deliveries_of_one_id_one_accepted(store: ReplayStore) -> None:
    app, _ = make_app(store)
    headers = SIGNER.sign(BODY)
    answers = await asyncio.gather(*(deliver(app, headers) for _ in range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [400] * 19
    assert {p["details"]["reason"] for s, p in answers if s == 400} == {"replayed"}


async def test_the_id_is_forgotten_when_the_route_fails(store: ReplayStore) -> None:
    verifier = StandardWebhookVerifier(STANDARD_SECRET, replay_store=store)
    app = FastAPI()
    register_exception_handlers(app)
    attempts: list[bytes] = []

    @app.post("/standard")
    async def flaky(body: bytes = Depends(verifier.dependency())) -> dict[str, int]:
        attempts.append(body)
        if len(attempts) == 1:
            raise RuntimeError("the database went away")
        return {"received": len(body)}

    headers = SIGNER.sign(BODY)
    assert (await deliver(app, headers))[0] == 500
    assert (await deliver(app, headers))[0] == 200  # the sender's retry
    assert_refused(await deliver(app, headers), "replayed")
    assert len(attempts) == 2


async def test_replay_protection_can_be_off() -> None:
    verifier = StandardWebhookVerifier(STANDARD_SECRET, replay_protection=False)
    headers = SIGNER.sign(BODY)
    await verifier.verify(BODY, headers)
    await verifier.verify(BODY, headers)


async def test_namespaces_keep_senders_apart(store: ReplayStore) -> None:
    one = StandardWebhookVerifier(STANDARD_SECRET, replay_store=store, namespace="billing")
    two = StandardWebhookVerifier(STANDARD_SECRET, replay_store=store, namespace="crm")
    headers = SIGNER.sign(BODY)
    await one.verify(BODY, headers)
    await two.verify(BODY, headers)
    with pytest.raises(WebhookSignatureError, match="already accepted"):
        await one.verify(BODY, headers)


async def test_a_forged_delivery_does_not_burn_the_id(store: ReplayStore) -> None:
    verifier = StandardWebhookVerifier(STANDARD_SECRET, replay_store=store)
    headers = SIGNER.sign(BODY)
    with pytest.raises(WebhookSignatureError):
        await verifier.verify(BODY + b"forged", headers)
    await verifier.verify(BODY, headers)


_OTHER_PROCESS = """
import asyncio, json, sys
from tempest.api.webhooks import RedisReplayStore, StandardWebhookVerifier

async def main():
    store = RedisReplayStore.from_url(sys.argv[1], prefix=sys.argv[2])
    verifier = StandardWebhookVerifier(sys.argv[3], replay_store=store)
    headers = json.loads(sys.argv[4])
    sys.stdin.readline()  # go
    async def one():
        try:
            await verifier.verify(sys.argv[5].encode(), headers)
            return 1
        except Exception:
            return 0
    print(sum(await asyncio.gather(*(one() for _ in range(10)))))
    await store.aclose()

asyncio.run(main())
"""


async def test_two_processes_accept_one_delivery_once() -> None:
    async with redis_replay_store() as redis_store:
        assert await asyncio.to_thread(_race_two_processes, redis_store.prefix) == 1


def _race_two_processes(prefix: str) -> int:
    import json

    headers = SIGNER.sign(BODY)
    arguments = [
        sys.executable,
        "-c",
        textwrap.dedent(_OTHER_PROCESS),
        service_url("TEMPEST_TEST_REDIS_URL"),
        prefix,
        STANDARD_SECRET,
        json.dumps(headers),
        BODY.decode(),
    ]
    processes = [
        subprocess.Popen(arguments, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    time.sleep(0.5)  # both import and connect first
    outputs = [process.communicate(b"go\n", timeout=30)[0] for process in processes]
    return sum(int(output) for output in outputs)


async def test_redis_outage_is_503_not_500(private_redis: PrivateRedis) -> None:
    store = RedisReplayStore.from_url(private_redis.url, timeout=0.5)
    app, _ = make_app(store)
    try:
        assert (await deliver(app, SIGNER.sign(BODY)))[0] == 200
        private_redis.kill()
        status, payload = await deliver(app, SIGNER.sign(BODY))
        assert status == 503
        assert payload["code"] == "SERVICE_UNAVAILABLE"
        private_redis.start()
        assert (await deliver(app, SIGNER.sign(BODY)))[0] == 200
    finally:
        await store.aclose()


# -- the project's store -------------------------------------------------------------------


async def test_the_project_store_follows_the_settings() -> None:
    assert isinstance(get_replay_store(Settings()), MemoryReplayStore)
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    store = get_replay_store(Settings(REDIS_URL=redis_url))
    assert isinstance(store, RedisReplayStore)
    assert get_replay_store(Settings(REDIS_URL=redis_url)) is store
    assert isinstance(
        get_replay_store(Settings(REDIS_URL=redis_url, WEBHOOK_REPLAY_URL="memory://")),
        MemoryReplayStore,
    )
    await store.aclose()


def test_settings_are_validated() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="WEBHOOK_REPLAY_URL"):
        Settings(WEBHOOK_REPLAY_URL="postgres://db")
    with pytest.raises(ValidationError, match="WEBHOOK_TOLERANCE_SECONDS"):
        Settings(WEBHOOK_TOLERANCE_SECONDS=0)
