"""RateLimitMiddleware across processes: ``manage.py serve --workers 2`` counting in Redis.

One generated project (the session's ``shared_project``, served with settings from the
environment only), three servers: one on the suite's Redis (400 requests from one client:
exactly 100 pass), and two on a private ``redis-server`` killed mid-run, one failing
open (each worker counts on its own) and one failing closed (503), both counting in
Redis again once it is back on the same port, without a restart. And ``serve``'s warning
when several workers would each count on their own.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, run, serve_project
from tests.services import PrivateRedis, private_redis

__all__ = ["private_redis"]

pytestmark = pytest.mark.e2e

MIDDLEWARE = json.dumps(
    [
        "tempest.api.middleware.RequestIDMiddleware",
        "tempest.api.middleware.CORSMiddleware",
        "tempest.api.middleware.RateLimitMiddleware",
    ]
)
PATH = "/openapi.json"  # a 2xx route that needs neither Redis nor the database


def limited_env(redis_url: str, requests: int, **extra: str) -> dict[str, str]:
    return {
        "MIDDLEWARE": MIDDLEWARE,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_REQUESTS": str(requests),
        "RATE_LIMIT_WINDOW_SECONDS": "60",
        "RATE_LIMIT_EXEMPT_PATHS": '["/health/liveness"]',
        **extra,
    }


async def burst(
    base: str, count: int, *, headers: dict[str, str] | None = None, concurrency: int = 16
) -> list[httpx.Response]:
    """``count`` GETs, each on a new connection (either worker may accept it)."""
    limits = httpx.Limits(max_keepalive_connections=0, max_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one() -> httpx.Response:
            async with gate:
                return await client.get(PATH, headers=headers)

        return list(await asyncio.gather(*(one() for _ in range(count))))


def codes(responses: list[httpx.Response]) -> dict[int, int]:
    found: dict[int, int] = {}
    for response in responses:
        found[response.status_code] = found.get(response.status_code, 0) + 1
    return found


async def _forget(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="tempest:ratelimit:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _count(url: str, key: str) -> int:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        return int(await client.zcard(f"tempest:ratelimit:{key}"))
    finally:
        await client.aclose()


@pytest.fixture
def shared_redis() -> Iterator[str]:
    url = service_url("TEMPEST_TEST_REDIS_URL")
    asyncio.run(_forget(url))
    yield url
    asyncio.run(_forget(url))


def test_two_workers_let_exactly_the_limit_through(shared_project: Path, shared_redis: str) -> None:
    env = limited_env(shared_redis, 100)
    with serve_project(shared_project, "serve", "--workers", "2", env=env, capture=True) as (
        base,
        process,
    ):
        responses = asyncio.run(burst(base, 400))
    output = process.stdout.read() if process.stdout else ""
    assert codes(responses) == {200: 100, 429: 300}, codes(responses)
    refused = [response for response in responses if response.status_code == 429]
    assert all(int(response.headers["retry-after"]) >= 1 for response in refused)
    assert {response.json()["code"] for response in refused} == {"RATE_LIMITED"}
    assert {response.headers["ratelimit-policy"] for response in responses} == {
        '"default";q=100;w=60'
    }
    remaining = sorted(
        int(response.headers["ratelimit"].split(";r=")[1].split(";")[0])
        for response in responses
        if response.status_code == 200
    )
    assert remaining == list(range(100))  # one count shared by both workers
    assert asyncio.run(_count(shared_redis, "ip:127.0.0.1")) == 100
    assert "Warning:" not in output  # the state is in Redis: serve has nothing to say


def test_redis_killed_mid_run_fails_open_or_closed_and_recovers(
    shared_project: Path, private_redis: PrivateRedis
) -> None:
    limit = 20
    with ExitStack() as stack:
        open_base, open_process = stack.enter_context(
            serve_project(
                shared_project,
                "serve",
                "--workers",
                "2",
                env=limited_env(private_redis.url, limit, RATE_LIMIT_KEY="header:X-Client"),
                capture=True,
            )
        )
        closed_base, _ = stack.enter_context(
            serve_project(
                shared_project,
                "serve",
                env=limited_env(
                    private_redis.url,
                    limit,
                    RATE_LIMIT_KEY="header:X-Client",
                    RATE_LIMIT_FAIL_OPEN="false",
                ),
            )
        )
        before = asyncio.run(burst(open_base, 10, headers={"X-Client": "before"}))
        assert codes(before) == {200: 10}
        assert asyncio.run(_count(private_redis.url, "header:before")) == 10

        private_redis.kill()
        # Fail open: each worker counts on its own, with the same limit of 20.
        down = asyncio.run(burst(open_base, 60, headers={"X-Client": "down"}))
        found = codes(down)
        assert set(found) == {200, 429}, found
        assert limit <= found[200] <= 2 * limit, found
        # Fail closed: 503 with the envelope and Retry-After.
        closed = asyncio.run(burst(closed_base, 5, headers={"X-Client": "closed"}))
        assert codes(closed) == {503: 5}
        assert closed[0].json()["code"] == "RATE_LIMIT_UNAVAILABLE"
        assert closed[0].headers["retry-after"] == "2"

        private_redis.start()  # the same port; empty (no persistence)
        time.sleep(2.5)  # past the stores' back-off: the next request tries Redis again
        after = asyncio.run(burst(open_base, 30, headers={"X-Client": "after"}))
        assert codes(after) == {200: limit, 429: 10}, codes(after)
        assert asyncio.run(_count(private_redis.url, "header:after")) == limit
        again = asyncio.run(burst(closed_base, 3, headers={"X-Client": "closed"}))
        assert codes(again) == {200: 3}
    log = open_process.stdout.read() if open_process.stdout else ""
    # Each worker logs the outage once and the recovery once, not once per request.
    assert 1 <= log.count("rate limit: Redis unreachable") <= 2, log
    assert 1 <= log.count("rate limit: Redis answers again") <= 2, log


def test_serve_warns_when_several_workers_would_count_apart(shared_project: Path) -> None:
    # A busy port: serve stops after its warning, without starting workers.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        env = limited_env("", 100)
        del env["REDIS_URL"]
        several_workers = ["serve", "--workers", "2", "--skip-checks", "--port", port]
        one_worker = ["serve", "--skip-checks", "--port", port]

        def serve(args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
            return run([PYTHON, "manage.py", *args], shared_project, 60, clean_env(**env, **extra))

        several = serve(several_workers)
        one = serve(one_worker)
        shared = serve(several_workers, REDIS_URL="redis://x:1/0")
    assert several.returncode != 0  # the port
    (warning,) = [line for line in several.stderr.splitlines() if "Warning" in line]
    assert "AUTH_THROTTLE_URL" in warning
    assert "RATE_LIMIT_URL" in warning
    assert "REDIS_URL" in warning
    assert "Warning" not in one.stderr + shared.stderr
