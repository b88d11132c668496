"""IdempotencyMiddleware on a small in-process app, with the memory store and real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from tempest.api import (
    IdempotencyMiddleware,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    register_exception_handlers,
)
from tempest.conf import Settings
from tempest.utils.jwt import JWTUtils
from tests.conftest import service_url
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.anyio

SECRET = "s" * 64


class Server:
    """A small app whose routes count the times they ran."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail_next = 0

    def build(self, **options: Any) -> FastAPI:
        app = FastAPI()
        register_exception_handlers(app)
        app.add_middleware(IdempotencyMiddleware, **options)

        @app.post("/orders", status_code=201)
        async def create(request: Request, response: Response) -> dict[str, Any]:
            body = await request.json()
            if self.fail_next:
                self.fail_next -= 1
                raise RuntimeError("the database went away")
            self.runs.append("create")
            response.set_cookie("a", "1")
            response.set_cookie("b", "2")
            return {"id": len(self.runs), "order": body}

        @app.post("/slow", status_code=201)
        async def slow() -> dict[str, int]:
            self.entered.set()
            await self.gate.wait()
            self.runs.append("slow")
            return {"id": len(self.runs)}

        @app.post("/refuse")
        async def refuse(request: Request) -> JSONResponse:
            self.runs.append("refuse")
            status = int(request.query_params["status"])
            return JSONResponse({"detail": "no", "code": "NO", "details": {}}, status)

        @app.api_route("/any", methods=["GET", "PUT", "POST"])
        async def any_method() -> dict[str, int]:
            self.runs.append("any")
            return {"n": len(self.runs)}

        return app


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    """Each test runs on both stores; the Redis one under a prefix of its own."""
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    redis_store = RedisIdempotencyStore.from_url(
        service_url("TEMPEST_TEST_REDIS_URL"), prefix=f"test:idem:{uuid.uuid4().hex}:"
    )
    try:
        yield redis_store
    finally:
        keys = [key async for key in redis_store.client.scan_iter(match=redis_store.prefix + "*")]
        if keys:
            await redis_store.client.delete(*keys)
        await redis_store.aclose()


def client_for(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def key_header(key: str | bytes) -> dict[str, Any]:
    return {"Idempotency-Key": key}


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, "clé".encode(), b"with space", b"tab\there", b"nul\x00", b"\x7f"],
    ids=["empty", "256-chars", "non-ascii", "space", "tab", "nul", "del"],
)
async def test_a_malformed_key_is_400_and_nothing_runs(store: IdempotencyStore, key: bytes) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        response = await client.post("/orders", json={"n": 1}, headers=key_header(key))
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert set(response.json()) == {"detail", "code", "details"}
    assert server.runs == []


async def test_a_key_sent_twice_is_400(store: IdempotencyStore) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        response = await client.post(
            "/orders", json={}, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
        )
    assert response.status_code == 400
    assert server.runs == []


async def test_a_key_of_255_visible_characters_is_accepted(store: IdempotencyStore) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        response = await client.post("/orders", json={}, headers=key_header("~" * 255))
    assert response.status_code == 201


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(
    store: IdempotencyStore,
) -> None:
    server = Server()
    app = server.build(store=store, max_body_size=100)
    async with client_for(app) as client:
        response = await client.post(
            "/orders", content=b"x" * 101, headers={**key_header("k"), "Content-Type": "a/b"}
        )
    assert response.status_code == 413
    assert response.json()["code"] == "CONTENT_TOO_LARGE"
    assert server.runs == []


async def test_a_streamed_body_over_the_limit_is_413(store: IdempotencyStore) -> None:
    server = Server()
    app = server.build(store=store, max_body_size=100)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 50

    async with client_for(app) as client:
        response = await client.post("/orders", content=chunks(), headers=key_header("k"))
    assert response.status_code == 413
    assert server.runs == []
    # The key was never taken: the same key with a small body runs.
    async with client_for(app) as client:
        response = await client.post("/orders", json={"n": 1}, headers=key_header("k"))
    assert response.status_code == 201


# -- semantics ---------------------------------------------------------------------------


async def test_a_retry_gets_the_first_answer_byte_for_byte(store: IdempotencyStore) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        first = await client.post("/orders", json={"n": 1}, headers=key_header("order-1"))
        again = await client.post("/orders", json={"n": 1}, headers=key_header("order-1"))
    assert first.status_code == again.status_code == 201
    assert server.runs == ["create"]
    assert again.content == first.content
    assert again.headers.get_list("set-cookie") == [
        "a=1; Path=/; SameSite=lax",
        "b=2; Path=/; SameSite=lax",
    ]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    replayed = [pair for pair in again.headers.raw if pair[0].lower() != b"idempotent-replayed"]
    assert replayed == first.headers.raw


async def test_the_same_key_with_another_body_is_422(store: IdempotencyStore) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        await client.post("/orders", json={"n": 1}, headers=key_header("k"))
        other = await client.post("/orders", json={"n": 2}, headers=key_header("k"))
        other_query = await client.post("/orders?x=1", json={"n": 1}, headers=key_header("k"))
    assert other.status_code == other_query.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert server.runs == ["create"]


async def test_a_concurrent_request_with_the_key_is_409_and_runs_nothing(
    store: IdempotencyStore,
) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        first = asyncio.create_task(client.post("/slow", headers=key_header("k")))
        await asyncio.wait_for(server.entered.wait(), 5)
        second = await client.post("/slow", headers=key_header("k"))
        server.gate.set()
        done = await first
        third = await client.post("/slow", headers=key_header("k"))
    assert second.status_code == 409
    assert second.json()["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert second.headers["retry-after"] == "1"
    assert done.status_code == third.status_code == 201
    assert third.content == done.content
    assert server.runs == ["slow"]


async def test_a_server_error_is_not_stored_and_the_retry_runs(store: IdempotencyStore) -> None:
    server = Server()
    server.fail_next = 1
    app = server.build(store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        failed = await client.post("/orders", json={"n": 1}, headers=key_header("k"))
        retried = await client.post("/orders", json={"n": 1}, headers=key_header("k"))
    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert server.runs == ["create"]


@pytest.mark.parametrize("status", [500, 503])
async def test_a_5xx_answer_frees_the_key(store: IdempotencyStore, status: int) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        for _ in range(2):
            response = await client.post(f"/refuse?status={status}", headers=key_header("k"))
            assert response.status_code == status
    assert server.runs == ["refuse", "refuse"]


@pytest.mark.parametrize(
    ("status", "stored"), [(400, True), (404, True), (401, False), (429, False)]
)
async def test_client_errors_are_stored_except_those_a_retry_may_change(
    store: IdempotencyStore, status: int, stored: bool
) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        first = await client.post(f"/refuse?status={status}", headers=key_header("k"))
        again = await client.post(f"/refuse?status={status}", headers=key_header("k"))
    assert first.status_code == again.status_code == status
    assert len(server.runs) == (1 if stored else 2)
    assert ("idempotent-replayed" in again.headers) is stored


async def test_keys_are_scoped_by_principal_method_and_path(store: IdempotencyStore) -> None:
    server = Server()
    jwt = JWTUtils(SECRET)
    app = server.build(store=store, jwt=jwt, methods=("POST", "PUT"))
    ana = {"Authorization": f"Bearer {jwt.encode({'sub': 'ana'})}", **key_header("k")}
    bob = {"Authorization": f"Bearer {jwt.encode({'sub': 'bob'})}", **key_header("k")}
    async with client_for(app) as client:
        assert (await client.post("/any", headers=ana)).json() == {"n": 1}
        assert (await client.post("/any", headers=bob)).json() == {"n": 2}
        assert (await client.put("/any", headers=ana)).json() == {"n": 3}
        assert (await client.post("/any", headers=ana)).json() == {"n": 1}  # replayed
        assert (await client.post("/orders", json={}, headers=ana)).status_code == 201
        # A forged token is not a principal: the caller is scoped by IP.
        forged = {"Authorization": "Bearer not.a.token", **key_header("k")}
        assert (await client.post("/any", headers=forged)).json() == {"n": 5}
    async with client_for(app, ip="10.0.0.9") as other:
        assert (await other.post("/any", headers=key_header("k"))).json() == {"n": 6}
    async with client_for(app) as same_ip:
        assert (await same_ip.post("/any", headers=key_header("k"))).json() == {"n": 5}


async def test_other_methods_and_requests_without_a_key_pass_through(
    store: IdempotencyStore,
) -> None:
    server = Server()
    async with client_for(server.build(store=store)) as client:
        for _ in range(2):
            await client.get("/any", headers=key_header("k"))
            await client.put("/any", headers=key_header("k"))  # PUT is not in the default
            await client.post("/any")
    assert len(server.runs) == 6


class CrashingStore:
    """Wraps a store; the release after the request never happens, as under SIGKILL."""

    def __init__(self, inner: IdempotencyStore) -> None:
        self.inner = inner

    async def claim(self, key: str, lease: bytes, lease_seconds: float) -> bytes | None:
        return await self.inner.claim(key, lease, lease_seconds)

    async def complete(self, key: str, lease: bytes, record: bytes, ttl_seconds: float) -> bool:
        return await self.inner.complete(key, lease, record, ttl_seconds)

    async def release(self, key: str, lease: bytes) -> None:
        return None

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_killed_request_frees_its_key_when_the_lease_expires(
    store: IdempotencyStore,
) -> None:
    server = Server()
    app = server.build(store=CrashingStore(store), lease_seconds=0.3)
    async with client_for(app) as client:
        killed = asyncio.create_task(client.post("/slow", headers=key_header("k")))
        await asyncio.wait_for(server.entered.wait(), 5)
        killed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await killed
        assert (await client.post("/slow", headers=key_header("k"))).status_code == 409
        await asyncio.sleep(0.4)
        server.gate.set()
        retried = await client.post("/slow", headers=key_header("k"))
    assert retried.status_code == 201
    assert server.runs == ["slow"]


# -- Redis unreachable -------------------------------------------------------------------


async def test_an_unreachable_store_is_503_by_default_and_fail_open_runs(
    private_redis: PrivateRedis,
) -> None:
    server = Server()
    closed = RedisIdempotencyStore.from_url(private_redis.url, timeout=1)
    opened = RedisIdempotencyStore.from_url(private_redis.url, timeout=1)
    try:
        private_redis.kill()
        async with client_for(server.build(store=closed)) as client:
            refused = await client.post("/orders", json={}, headers=key_header("k"))
        async with client_for(server.build(store=opened, fail_open=True)) as client:
            served = await client.post("/orders", json={}, headers=key_header("k"))
        assert refused.status_code == 503
        assert refused.json()["code"] == "IDEMPOTENCY_UNAVAILABLE"
        assert served.status_code == 201
        assert server.runs == ["create"]
        # Redis back: keys work again without a restart.
        private_redis.start()
        async with client_for(server.build(store=closed)) as client:
            for _ in range(2):
                assert (
                    await client.post("/orders", json={}, headers=key_header("k"))
                ).status_code == 201
        assert server.runs == ["create", "create"]
    finally:
        await closed.aclose()
        await opened.aclose()


# -- settings ----------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, MemoryIdempotencyStore),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, RedisIdempotencyStore),
        (
            {"REDIS_URL": "redis://127.0.0.1:1/0", "IDEMPOTENCY_URL": "memory://"},
            MemoryIdempotencyStore,
        ),
        ({"IDEMPOTENCY_URL": "redis://127.0.0.1:1/0"}, RedisIdempotencyStore),
    ],
)
async def test_from_settings_chooses_the_store(values: dict[str, str], expected: type) -> None:
    middleware = IdempotencyMiddleware.from_settings(FastAPI(), settings(**values))
    assert type(middleware.store) is expected
    await middleware.store.aclose()


def test_bad_settings_are_refused() -> None:
    from pydantic import ValidationError

    for values in (
        {"IDEMPOTENCY_URL": "http://cache"},
        {"IDEMPOTENCY_TTL_SECONDS": 0},
        {"IDEMPOTENCY_LEASE_SECONDS": 0},
    ):
        with pytest.raises(ValidationError):
            settings(**values)


async def test_the_middleware_setting_switches_it_on() -> None:
    values = settings(
        IDEMPOTENCY_LEASE_SECONDS=5,
        IDEMPOTENCY_METHODS=["POST"],
        JWT_SECRET=SECRET,
        MAX_REQUEST_BODY_SIZE=10,
    )
    middleware = IdempotencyMiddleware.from_settings(FastAPI(), values)
    assert middleware.lease_seconds == 5
    assert middleware.methods == frozenset({"POST"})
    assert middleware.jwt is not None
    assert middleware.max_body_size == 10


async def test_forwarded_addresses_scope_keys_only_behind_a_trusted_proxy(
    store: IdempotencyStore,
) -> None:
    server = Server()
    behind = server.build(store=store, trusted_proxies=["127.0.0.1"])
    direct = Server().build(store=MemoryIdempotencyStore())

    def sent_by(address: str) -> dict[str, str]:
        return {"X-Forwarded-For": address, **key_header("k")}

    async with client_for(behind) as client:
        assert (await client.post("/any", headers=sent_by("203.0.113.1"))).json() == {"n": 1}
        assert (await client.post("/any", headers=sent_by("203.0.113.2"))).json() == {"n": 2}
        assert (await client.post("/any", headers=sent_by("203.0.113.1"))).json() == {"n": 1}
    async with client_for(direct, ip="198.51.100.7") as client:
        # Not from a trusted proxy: the header is ignored, both are the same client.
        first = await client.post("/any", headers=sent_by("203.0.113.1"))
        spoofed = await client.post("/any", headers=sent_by("203.0.113.2"))
    assert spoofed.headers["idempotent-replayed"] == "true"
    assert spoofed.content == first.content


async def test_the_store_built_from_settings_is_closed_at_shutdown() -> None:
    values = settings(REDIS_URL=service_url("TEMPEST_TEST_REDIS_URL"))
    middleware = IdempotencyMiddleware.from_settings(FastAPI(), values)
    closed: list[bool] = []
    close = middleware.store.aclose

    async def recording_close() -> None:
        closed.append(True)
        await close()

    setattr(middleware.store, "aclose", recording_close)  # noqa: B010
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    await middleware(scope, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert closed == [True]
