"""The sign-in lockout across processes: ``manage.py serve --workers 2`` with the attempts
counted in Redis (``AUTH_THROTTLE_URL``); a burst of guesses on fresh connections, which
the two workers share between them, is evaluated at most ``AUTH_MAX_LOGIN_ATTEMPTS``
times."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import manage, serve_project

pytestmark = pytest.mark.e2e

EMAIL = "ana@example.com"
PASSWORD = "pass-word-1"
MAX_ATTEMPTS = 3
GUESSES = 30


async def _forget_attempts(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        for pattern in ("tempest:throttle:{login:*", "tempest:throttle:{login-client:*"):
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def served(new_project: Callable[..., Path]) -> Iterator[str]:
    """A new project with one user, served by two workers counting attempts in Redis."""
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    asyncio.run(_forget_attempts(redis_url))
    root = new_project("shop")
    env: dict[str, str] = {
        "AUTH_THROTTLE_URL": redis_url,
        "AUTH_MAX_LOGIN_ATTEMPTS": str(MAX_ATTEMPTS),
        "AUTH_PASSWORD_HASH_ROUNDS": "4",
        "JWT_SECRET": "x" * 64,
    }
    for args in (
        ("migrate",),
        ("user", "create", "--email", EMAIL, "--password", PASSWORD),
    ):
        result = manage(root, *args, **env)  # type: ignore[arg-type]
        assert result.returncode == 0, result.stderr
    try:
        with serve_project(root, "serve", "--workers", "2", env=env) as (base, _):
            yield base
    finally:
        asyncio.run(_forget_attempts(redis_url))


async def _burst(base: str) -> list[int]:
    async def guess(password: str) -> int:
        # A client of its own: a new connection, which either worker may accept.
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post(
                "/api/auth/login", json={"email": EMAIL, "password": password}
            )
            return response.status_code

    passwords = [f"wrong {n}" for n in range(GUESSES)] + [PASSWORD]
    return list(await asyncio.gather(*(guess(password) for password in passwords)))


def test_two_workers_evaluate_a_burst_of_guesses_at_most_max_attempts_times(
    served: str,
) -> None:
    statuses = asyncio.run(_burst(served))
    # An evaluated guess answers 401 (the last one 429), the right password 200; a refused
    # one 429 without any check.
    evaluated = statuses.count(401) + statuses.count(200)
    assert evaluated <= MAX_ATTEMPTS, statuses
    assert statuses.count(429) >= GUESSES + 1 - MAX_ATTEMPTS, statuses
    assert set(statuses) <= {200, 401, 429}, statuses
    if 200 not in statuses:  # the right password came too late: the account is locked
        response = httpx.post(
            f"{served}/api/auth/login", json={"email": EMAIL, "password": PASSWORD}
        )
        assert response.status_code == 429
