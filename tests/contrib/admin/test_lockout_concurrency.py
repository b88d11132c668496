"""The admin's sign-in and one-time codes hold when requests arrive all at once.

Each test builds an admin on the module's database (SQLite and PostgreSQL) with a fresh
throttle, in process or on Redis, fires its requests with ``asyncio.gather`` and counts
the bcrypt and TOTP checks that really ran.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tempest.utils.throttle import (
    AttemptThrottle,
    MemoryThrottleBackend,
    RedisThrottleBackend,
    ThrottleBackend,
)
from tempest.utils.totp import TOTPHelper
from tests.conftest import service_url
from tests.contrib.admin.conftest import (
    ADMIN,
    MFA_USER,
    PASSWORD,
    AdminClient,
    AdminEnv,
    csrf_of,
    operator_admin,
)
from tests.contrib.admin.models import Operator
from tests.contrib.conftest import Checks

pytestmark = pytest.mark.anyio

MAX_ATTEMPTS = 5


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[ThrottleBackend]:
    if request.param == "memory":
        yield MemoryThrottleBackend()
        return
    redis = RedisThrottleBackend.from_url(
        service_url("TEMPEST_TEST_REDIS_URL"), prefix=f"tempest-test:{uuid.uuid4().hex}:"
    )
    try:
        yield redis
    finally:
        keys = [key async for key in redis.client.scan_iter(match=redis.prefix + "*")]
        if keys:
            await redis.client.delete(*keys)
        await redis.aclose()


def make_app(env: AdminEnv, backend: ThrottleBackend, max_attempts: int) -> FastAPI:
    """An admin with its own throttle on the module's database."""
    return operator_admin(env, throttle=AttemptThrottle(backend, max_attempts=max_attempts))


@pytest.fixture
def app(env: AdminEnv, backend: ThrottleBackend) -> FastAPI:
    """An admin whose throttle allows 5 attempts per account."""
    return make_app(env, backend, MAX_ATTEMPTS)


@pytest.fixture
async def new_client(app: FastAPI) -> AsyncIterator[Any]:
    made: list[httpx.AsyncClient] = []

    def make(peer: str = "127.0.0.1", on: FastAPI | None = None) -> AdminClient:
        transport = httpx.ASGITransport(app=on or app, client=(peer, 50000))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        made.append(http)
        return AdminClient(http)

    yield make
    for http in made:
        await http.aclose()


async def _fresh_mfa(env: AdminEnv) -> None:
    """Forget which TOTP step the MFA user used last."""
    async with env.db.get_session_context() as session:
        await session.execute(
            update(Operator).where(Operator.email == MFA_USER).values(mfa_last_used_step=None)
        )


async def pending_mfa(client: AdminClient) -> None:
    """Sign the MFA user in with the password; the session waits for a code."""
    response = await client.login(MFA_USER)
    assert response.status_code == 303, response.text
    client.token = csrf_of((await client.get("/mfa")).text)


async def test_forty_concurrent_sign_ins_are_evaluated_at_most_max_times(
    new_client: Any, checks: Checks
) -> None:
    client: AdminClient = new_client()
    await client.login_page()
    form = [{"username": ADMIN, "password": f"wrong {n}"} for n in range(39)]
    form.append({"username": ADMIN, "password": PASSWORD})
    responses = await asyncio.gather(*(client.post("/login", data) for data in form))
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= MAX_ATTEMPTS, statuses
    assert statuses.count(429) >= 40 - MAX_ATTEMPTS, statuses
    if PASSWORD not in checks.passwords:
        assert statuses[-1] == 429


async def test_a_hundred_concurrent_mfa_codes_are_evaluated_at_most_max_times(
    env: AdminEnv, new_client: Any, checks: Checks
) -> None:
    client: AdminClient = new_client()
    await pending_mfa(client)
    current = {pyotp.TOTP(env.mfa_secret).at(time.time() + 30 * d) for d in (-1, 0, 1)}
    codes = [f"{n:06d}" for n in range(100_000, 999_999, 3001) if f"{n:06d}" not in current]
    checks.codes.clear()
    responses = await asyncio.gather(*(client.post("/mfa", {"code": c}) for c in codes[:100]))
    statuses = [response.status_code for response in responses]
    assert len(checks.codes) <= MAX_ATTEMPTS, statuses
    assert statuses.count(429) >= 100 - MAX_ATTEMPTS, statuses


async def test_one_code_posted_by_six_pending_sessions_signs_in_exactly_one(
    env: AdminEnv, backend: ThrottleBackend, new_client: Any, checks: Checks
) -> None:
    await _fresh_mfa(env)
    roomy = make_app(env, backend, 10)  # the throttle lets all six codes be checked
    clients: list[AdminClient] = [new_client(on=roomy) for _ in range(6)]
    for client in clients:
        await pending_mfa(client)
    code = TOTPHelper(issuer="tests").now(env.mfa_secret)
    responses = await asyncio.gather(*(client.post("/mfa", {"code": code}) for client in clients))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [303, 400, 400, 400, 400, 400], [r.text[:200] for r in responses]
    assert checks.codes.count(code) == 6  # all six were checked: the claim picked one
    signed_in = [
        client
        for client in clients
        if (await client.get("/")).status_code == 200  # the others still wait for a code
    ]
    assert len(signed_in) == 1


async def test_many_accounts_tried_once_each_from_one_client_are_throttled(
    new_client: Any, checks: Checks
) -> None:
    client: AdminClient = new_client()
    await client.login_page()
    forms = [{"username": f"nobody{n}@example.com", "password": "guess"} for n in range(25)]
    responses = await asyncio.gather(*(client.post("/login", form) for form in forms))
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= 20, statuses
    assert statuses.count(429) >= 5, statuses
    # Another client may still sign in.
    other: AdminClient = new_client("203.0.113.7")
    assert (await other.login()).status_code == 303


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    new_client: Any, checks: Checks
) -> None:
    client: AdminClient = new_client()
    await client.login_page()

    async def post(n: int) -> httpx.Response:
        form = [("username", f"nobody{n}@example.com"), ("password", "guess")]
        form.append(("csrf_token", client.token))
        from urllib.parse import urlencode

        return await client.http.post(
            "/admin/login",
            content=urlencode(form),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": f"198.51.100.{n}",
            },
        )

    responses = await asyncio.gather(*(post(n) for n in range(25)))
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= 20, statuses
    assert statuses.count(429) >= 5, statuses
