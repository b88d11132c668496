"""RateLimitMiddleware on a small in-process app: memory store, real Redis, a Redis killed."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from tempest.api import (
    MemoryRateLimitStore,
    RateLimitMiddleware,
    RateLimitStore,
    RedisRateLimitStore,
    key_by_header,
    key_by_ip,
    key_by_jwt_claim,
    key_by_jwt_subject,
    register_exception_handlers,
)
from tempest.conf import Settings
from tempest.exceptions.framework import ImproperlyConfigured
from tempest.utils.jwt import JWTUtils
from tests.conftest import service_url
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.anyio

SECRET = "s" * 64


def build(**options: Any) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(RateLimitMiddleware, **options)

    @app.get("/items")
    async def items() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/health/liveness")
    async def liveness() -> dict[str, str]:
        return {"status": "ok"}

    return app


def client_for(app: Any, ip: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def statuses(client: httpx.AsyncClient, count: int, **kwargs: Any) -> list[int]:
    return [(await client.get("/items", **kwargs)).status_code for _ in range(count)]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RateLimitStore]:
    """Each test runs on both stores; the Redis one under a prefix of its own."""
    if request.param == "memory":
        yield MemoryRateLimitStore()
        return
    redis_store = RedisRateLimitStore.from_url(
        service_url("TEMPEST_TEST_REDIS_URL"), prefix=f"test:rl:{uuid.uuid4().hex}:"
    )
    try:
        yield redis_store
    finally:
        keys = [key async for key in redis_store.redis.scan_iter(match=redis_store.prefix + "*")]
        if keys:
            await redis_store.redis.delete(*keys)
        await redis_store.aclose()


# -- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"max_requests": 0},
        {"max_requests": -1},
        {"max_requests": True},
        {"max_requests": "10"},
        {"window_seconds": 0},
        {"window_seconds": -5.0},
        {"policy_name": 'a"b'},
        {"policy_name": "new\nline"},
    ],
    ids=["zero", "negative", "bool", "str", "window-0", "window-negative", "quote", "newline"],
)
def test_bad_limits_are_refused_at_start_up(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"max_requests|window_seconds|policy_name"):
        RateLimitMiddleware(FastAPI(), **options)


@pytest.mark.parametrize(
    "values",
    [
        {"RATE_LIMIT_KEY": "cookie"},
        {"RATE_LIMIT_KEY": "header:"},
        {"RATE_LIMIT_KEY": "ip:x"},
        {"RATE_LIMIT_URL": "postgresql://db/app"},
        {"RATE_LIMIT_REQUESTS": 0},
        {"RATE_LIMIT_WINDOW_SECONDS": 0},
        {"AUTH_THROTTLE_URL": "postgresql://db/app"},
        {"ADMIN_REVOKED_SESSIONS_URL": "sqlite:///x"},
    ],
)
def test_bad_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)


def test_a_header_key_needs_a_name() -> None:
    with pytest.raises(ValueError, match="header name"):
        key_by_header("  ")


@pytest.mark.parametrize(
    "forwarded",
    ["garbage, !!!", ", ".join(f"198.51.100.{n}" for n in range(50)), "[2001:db8::1]:4711"],
    ids=["garbage", "50-hops", "ipv6-brackets"],
)
async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    store: RateLimitStore, forwarded: str
) -> None:
    app = build(max_requests=2, store=store)
    async with client_for(app) as client:
        codes = await statuses(client, 3, headers={"X-Forwarded-For": forwarded})
        # Another forged value does not open another bucket: the peer is the key.
        other = await client.get("/items", headers={"X-Forwarded-For": "192.0.2.99"})
    assert codes == [200, 200, 429]
    assert other.status_code == 429


async def test_garbage_forwarded_by_a_trusted_proxy_keys_by_the_proxy() -> None:
    trusted = ["10.0.0.0/8"]
    app = build(max_requests=1, key_func=key_by_ip(trusted_proxies=trusted))
    async with client_for(app, ip="10.0.0.5") as proxy:
        first = await proxy.get("/items", headers={"X-Forwarded-For": "not-an-ip"})
        second = await proxy.get("/items", headers={"X-Forwarded-For": "also garbage"})
        # A real client address behind the proxy has its own bucket.
        client = await proxy.get("/items", headers={"X-Forwarded-For": "[2001:db8::7]"})
    assert [first.status_code, second.status_code, client.status_code] == [200, 429, 200]


async def test_a_long_header_value_is_stored_hashed() -> None:
    store = MemoryRateLimitStore()
    app = build(max_requests=1, store=store, key_func=key_by_header("x-api-key", "apikey"))
    async with client_for(app) as client:
        first = await client.get("/items", headers={"X-API-Key": "k" * 5000})
        again = await client.get("/items", headers={"X-API-Key": "k" * 5000})
        other = await client.get("/items", headers={"X-API-Key": "k" * 4999})
    assert [first.status_code, again.status_code, other.status_code] == [200, 429, 200]
    assert all(len(key) < 110 and key.startswith("apikey:sha256:") for key in store._logs)


async def test_an_invalid_bearer_token_is_keyed_by_ip() -> None:
    jwt = JWTUtils(SECRET)
    app = build(max_requests=1, key_func=key_by_jwt_subject(jwt))
    forged = JWTUtils("x" * 64).encode({"sub": "alice"})
    async with client_for(app) as client:
        first = await client.get("/items", headers={"Authorization": f"Bearer {forged}"})
        second = await client.get("/items", headers={"Authorization": "Bearer not.a.jwt"})
        alice = await client.get(
            "/items", headers={"Authorization": f"Bearer {jwt.encode({'sub': 'alice'})}"}
        )
    assert [first.status_code, second.status_code, alice.status_code] == [200, 429, 200]


# -- the limit ---------------------------------------------------------------------------


async def test_past_the_limit_the_answer_is_429_with_the_envelope(store: RateLimitStore) -> None:
    app = build(max_requests=3, window_seconds=60, store=store)
    async with client_for(app) as client:
        answers = [await client.get("/items") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [answer.headers["ratelimit"] for answer in answers[:3]] == [
        '"default";r=2;t=60',
        '"default";r=1;t=60',
        '"default";r=0;t=60',
    ]
    refused = answers[3]
    assert all(a.headers["ratelimit-policy"] == '"default";q=3;w=60' for a in answers)
    assert refused.headers["ratelimit"] == '"default";r=0;t=60'
    assert refused.headers["retry-after"] == "60"
    assert "retry-after" not in answers[0].headers
    body = refused.json()
    assert set(body) == {"detail", "code", "details"}
    assert body["code"] == "RATE_LIMITED"
    assert body["details"] == {"limit": 3, "window_seconds": 60.0, "retry_after": 60}
    assert "at most 3 per 60 s" in body["detail"]


async def test_keys_are_counted_apart_and_exempt_paths_not_at_all(store: RateLimitStore) -> None:
    app = build(max_requests=1, store=store, exempt_paths=("/health/liveness",))
    async with client_for(app, "192.0.2.1") as one, client_for(app, "2001:db8::1") as two:
        assert await statuses(one, 2) == [200, 429]
        assert await statuses(two, 2) == [200, 429]
        probes = [(await one.get("/health/liveness")) for _ in range(5)]
    assert {probe.status_code for probe in probes} == {200}
    assert "ratelimit" not in probes[0].headers


async def test_concurrent_requests_never_pass_more_than_the_limit(store: RateLimitStore) -> None:
    app = build(max_requests=10, store=store)
    async with client_for(app) as client:
        answers = await asyncio.gather(*(client.get("/items") for _ in range(40)))
    codes = [answer.status_code for answer in answers]
    assert codes.count(200) == 10
    assert codes.count(429) == 30


async def test_the_window_slides() -> None:
    now = [1000.0]
    store = MemoryRateLimitStore(clock=lambda: now[0])
    app = build(max_requests=2, window_seconds=10, store=store)
    async with client_for(app) as client:
        assert await statuses(client, 1) == [200]
        now[0] += 6
        assert await statuses(client, 2) == [200, 429]
        refused = await client.get("/items")
        assert refused.headers["retry-after"] == "4"  # the first request leaves at t+10
        now[0] += 4.001
        assert await statuses(client, 2) == [200, 429]  # one slot back, not a new window
        now[0] += 6
        assert await statuses(client, 1) == [200]


async def test_the_memory_store_forgets_idle_keys() -> None:
    now = [0.0]
    store = MemoryRateLimitStore(clock=lambda: now[0])
    for n in range(100):
        await store.hit(f"ip:{n}", max_requests=5, window_seconds=1)
    now[0] += 2
    await store.hit("ip:last", max_requests=5, window_seconds=1)
    assert len(store) == 1


async def test_an_async_key_function_and_a_none_key() -> None:
    async def by_tenant(scope: Any) -> str | None:
        for name, value in scope["headers"]:
            if name == b"x-tenant":
                return f"tenant:{value.decode()}"
        return None  # not limited

    app = build(max_requests=1, key_func=by_tenant)
    async with client_for(app) as client:
        tenant = await statuses(client, 2, headers={"X-Tenant": "a"})
        anonymous = await statuses(client, 3)
    assert tenant == [200, 429]
    assert anonymous == [200, 200, 200]


async def test_exempt_prefixes_a_single_path_and_an_async_callable_key() -> None:
    class ByTenant:
        async def __call__(self, scope: Any) -> str:
            return "tenant:one"

    under = build(max_requests=1, exempt_paths=("/health/",), key_func=ByTenant())
    single = build(max_requests=1, exempt_paths="/health/liveness")
    async with client_for(under) as client:
        probes = {(await client.get("/health/liveness")).status_code for _ in range(3)}
        assert await statuses(client, 2) == [200, 429]
    async with client_for(single) as client:
        assert {(await client.get("/health/liveness")).status_code for _ in range(3)} == {200}
    assert probes == {200}


async def test_jwt_claim_and_subject_keys() -> None:
    jwt = JWTUtils(SECRET)
    app = build(max_requests=1, key_func=key_by_jwt_claim(jwt, "tenant_id", scope="tenant"))
    token_a = jwt.encode({"sub": "alice", "tenant_id": "acme"})
    token_b = jwt.encode({"sub": "bob", "tenant_id": "acme"})
    token_c = jwt.encode({"sub": "carol", "tenant_id": "globex"})
    async with client_for(app) as client:
        codes = [
            (await client.get("/items", headers={"Authorization": f"Bearer {token}"})).status_code
            for token in (token_a, token_b, token_c)
        ]
    assert codes == [200, 429, 200]  # alice and bob share acme's bucket


# -- Redis -------------------------------------------------------------------------------


# What the script runs inside Redis: commandstats counts them too, but they are no round
# trip (the store never sends them itself).
_IN_SCRIPT = {"time", "zremrangebyscore", "zcard", "zadd", "pexpire", "zrange"}


async def _round_trips(client: Any) -> int:
    """Commands clients sent (INFO, which counts, excluded)."""
    stats = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name.removeprefix("cmdstat_") not in _IN_SCRIPT | {"info"}
    )


async def test_one_redis_round_trip_per_check_and_noscript_reload(
    private_redis: PrivateRedis,
) -> None:
    store = RedisRateLimitStore.from_url(private_redis.url)
    app = build(max_requests=5, store=store)
    try:
        async with client_for(app) as client:
            await client.get("/items")  # the first call loads the script (NOSCRIPT)
            before = await _round_trips(store.redis)
            assert await statuses(client, 6) == [200] * 4 + [429, 429]  # 1 + 4 allowed
            after = await _round_trips(store.redis)
            assert after - before == 6  # one EVALSHA per request, nothing else
            await store.redis.script_flush()
            assert await statuses(client, 1) == [429]  # reloaded by SHA, same count
            stats = await store.redis.info("commandstats")
        assert int(stats["cmdstat_evalsha"]["calls"]) >= 8
        (key,) = await store.redis.keys("tempest:ratelimit:*")
        assert 0 < await store.redis.pttl(key) <= 60_000  # the log expires on its own
    finally:
        await store.aclose()


async def test_redis_down_fails_open_then_shared_counting_resumes(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisRateLimitStore.from_url(private_redis.url)
    other = RedisRateLimitStore.from_url(private_redis.url)
    store.retry_seconds = 0.3
    app = build(max_requests=3, store=store)
    caplog.set_level(logging.WARNING, logger="tempest.ratelimit")
    try:
        async with client_for(app) as client:
            assert await statuses(client, 2) == [200, 200]
            private_redis.kill()
            # In this process, the same limit, counted from zero.
            assert await statuses(client, 5) == [200, 200, 200, 429, 429]
            assert not store.available
            downs = [r for r in caplog.records if "unreachable" in r.getMessage()]
            assert len(downs) == 1  # logged once, not per request
            private_redis.start()  # empty: this Redis keeps nothing on disk
            await asyncio.sleep(0.35)
            # A burst: one request tries Redis again, the others wait for it, none is
            # counted in memory meanwhile.
            burst = await asyncio.gather(*(client.get("/items") for _ in range(3)))
            assert [answer.status_code for answer in burst] == [200, 200, 200]
            assert store.available
        backs = [r for r in caplog.records if "answers again" in r.getMessage()]
        assert len(backs) == 1
        (key,) = await store.redis.keys("tempest:ratelimit:*")
        assert await store.redis.zcard(key) == 3  # counted in Redis again
        # Another process's store sees the same count: none left.
        async with client_for(build(max_requests=3, store=other)) as client:
            assert await statuses(client, 1) == [429]
    finally:
        await store.aclose()
        await other.aclose()


async def test_redis_down_fails_closed_with_503(private_redis: PrivateRedis) -> None:
    store = RedisRateLimitStore.from_url(private_redis.url, fail_open=False)
    app = build(max_requests=3, store=store)
    try:
        async with client_for(app) as client:
            assert await statuses(client, 1) == [200]
            private_redis.kill()
            started = time.monotonic()
            answers = [await client.get("/items") for _ in range(20)]
            elapsed = time.monotonic() - started
        assert {answer.status_code for answer in answers} == {503}
        body = answers[0].json()
        assert body["code"] == "RATE_LIMIT_UNAVAILABLE"
        assert set(body) == {"detail", "code", "details"}
        assert answers[0].headers["retry-after"] == "2"
        assert elapsed < 2  # Redis is not tried again on every request
    finally:
        await store.aclose()


def test_the_redis_store_needs_an_async_client() -> None:
    with pytest.raises(TypeError, match=r"redis\.asyncio"):
        RedisRateLimitStore(object())  # type: ignore[arg-type]


# -- from settings -----------------------------------------------------------------------


def _from_settings(**values: Any) -> RateLimitMiddleware:
    return RateLimitMiddleware.from_settings(FastAPI(), Settings(**values))


async def test_from_settings_off_by_default() -> None:
    middleware = _from_settings()
    assert not middleware.enabled
    # Off, it makes no Redis client even when the project has a Redis.
    assert isinstance(_from_settings(REDIS_URL="redis://127.0.0.1:1/0").store, MemoryRateLimitStore)
    async with client_for(middleware) as client:
        answers = [await client.get("/nothing") for _ in range(3)]
    assert {answer.status_code for answer in answers} == {404}
    assert "ratelimit" not in answers[0].headers


async def test_from_settings_follows_redis_url_unless_memory_is_named() -> None:
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    shared = _from_settings(RATE_LIMIT_REQUESTS=5, REDIS_URL=redis_url)
    own = _from_settings(RATE_LIMIT_REQUESTS=5, REDIS_URL=redis_url, RATE_LIMIT_URL="memory://")
    alone = _from_settings(RATE_LIMIT_REQUESTS=5)
    try:
        assert isinstance(shared.store, RedisRateLimitStore)
        assert shared.store.fail_open
        assert isinstance(own.store, MemoryRateLimitStore)
        assert isinstance(alone.store, MemoryRateLimitStore)
        assert alone.exempt_exact == {"/health/liveness", "/health/readiness"}
    finally:
        await shared.store.aclose()


async def test_from_settings_user_key_and_its_missing_secret() -> None:
    with pytest.raises(ImproperlyConfigured, match="JWT_SECRET"):
        _from_settings(RATE_LIMIT_REQUESTS=1, RATE_LIMIT_KEY="user", JWT_SECRET="")
    middleware = _from_settings(RATE_LIMIT_REQUESTS=1, RATE_LIMIT_KEY="user", JWT_SECRET=SECRET)
    assert middleware.key_func({"headers": [], "client": ("192.0.2.1", 1)}) == "ip:192.0.2.1"
    token = JWTUtils(SECRET).encode({"sub": "42"})
    scope = {"headers": [(b"authorization", f"Bearer {token}".encode())], "client": None}
    assert middleware.key_func(scope) == "user:42"


def test_from_settings_trusts_the_trusted_proxies() -> None:
    middleware = _from_settings(RATE_LIMIT_REQUESTS=1, TRUSTED_PROXIES=["10.0.0.0/8"])
    scope = {"headers": [(b"x-forwarded-for", b"198.51.100.4")], "client": ("10.1.2.3", 1)}
    assert middleware.key_func(scope) == "ip:198.51.100.4"
    header = _from_settings(RATE_LIMIT_REQUESTS=1, RATE_LIMIT_KEY="header:X-API-Key")
    scope = {"headers": [(b"x-api-key", b"abc")], "client": ("10.1.2.3", 1)}
    assert header.key_func(scope) == "header:abc"


async def test_the_store_built_from_settings_is_closed_at_shutdown() -> None:
    middleware = _from_settings(
        RATE_LIMIT_REQUESTS=5, REDIS_URL=service_url("TEMPEST_TEST_REDIS_URL")
    )
    store = middleware.store
    assert isinstance(store, RedisRateLimitStore)
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await middleware({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert not store._owns_client  # closed
