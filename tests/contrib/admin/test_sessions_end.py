"""Admin sessions that end: "Log out" ends that session (its cookie is refused when
replayed), "Sign out everywhere" ends all of the operator's, and a signed-out session
is remembered in memory or in Redis (a private ``redis-server`` the test starts and kills).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tempest.contrib.admin.sessions import MemoryRevokedSessions, RedisRevokedSessions
from tests.conftest import service_url
from tests.contrib.admin.conftest import (
    ADMIN,
    SECRET,
    AdminClient,
    AdminEnv,
    csrf_of,
    operator,
    operator_admin,
)
from tests.contrib.admin.models import Operator
from tests.helpers import free_port

pytestmark = pytest.mark.anyio

COOKIE = "tempest_admin"


async def replay(client: AdminClient, cookie: str, path: str = "/") -> httpx.Response:
    """GET ``path`` with ``cookie`` alone, as a thief holding a copy of it would."""
    return await client.http.get(client.prefix + path, headers={"Cookie": f"{COOKIE}={cookie}"})


def assert_sent_to_login(response: httpx.Response) -> None:
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/admin/login")


async def signed_in(new_client: Any, email: str = ADMIN) -> tuple[AdminClient, str]:
    client: AdminClient = new_client()
    assert (await client.login(email)).status_code == 303
    await client.refresh_token()
    return client, str(client.http.cookies[COOKIE])


async def test_logout_ends_that_session_and_no_other(new_client: Any) -> None:
    laptop, laptop_cookie = await signed_in(new_client)
    phone, phone_cookie = await signed_in(new_client)
    response = await laptop.post("/logout", {})
    assert response.status_code == 303

    assert_sent_to_login(await replay(laptop, laptop_cookie))
    assert_sent_to_login(await replay(laptop, laptop_cookie, "/m/admin_t_part/"))
    assert (await replay(phone, phone_cookie)).status_code == 200
    # A signed-out session's cookie does not pass the login page either.
    page = await laptop.http.get("/admin/login", headers={"Cookie": f"{COOKIE}={laptop_cookie}"})
    assert page.status_code == 200 and "csrf_token" in page.text


async def test_sign_out_everywhere_ends_every_session_of_the_operator(
    env: AdminEnv, new_client: Any
) -> None:
    async with env.db.get_session_context() as session:
        session.add(operator("everywhere@example.com"))
    laptop, laptop_cookie = await signed_in(new_client, "everywhere@example.com")
    phone, phone_cookie = await signed_in(new_client, "everywhere@example.com")
    other, other_cookie = await signed_in(new_client)

    forged = await laptop.post("/logout/all", {}, token=False)
    assert forged.status_code == 403  # CSRF
    assert (await replay(phone, phone_cookie)).status_code == 200
    dashboard = await laptop.get("/")
    assert 'action="/admin/logout/all"' in dashboard.text

    response = await laptop.post("/logout/all", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert_sent_to_login(await replay(laptop, laptop_cookie))
    assert_sent_to_login(await replay(phone, phone_cookie))
    assert (await replay(other, other_cookie)).status_code == 200
    # Signing in again works.
    again, _ = await signed_in(new_client, "everywhere@example.com")
    assert (await again.get("/")).status_code == 200


async def test_a_pending_code_step_ends_with_the_password_change(
    env: AdminEnv, new_client: Any
) -> None:
    """Between the password and the one-time code, a new password ends the sign-in."""
    from sqlalchemy import update

    from tempest.utils.totp import TOTPHelper

    totp = TOTPHelper(issuer="tests")
    secret = totp.generate_secret()
    async with env.db.get_session_context() as session:
        session.add(operator("pending@example.com", mfa_enabled=True, mfa_secret=secret))
    client: AdminClient = new_client()
    assert (await client.login("pending@example.com")).status_code == 303
    form = await client.get("/mfa")
    client.token = csrf_of(form.text)
    async with env.db.get_session_context() as session:
        await session.execute(
            update(Operator)
            .where(Operator.email == "pending@example.com")
            .values(session_version=Operator.session_version + 1)
        )
    response = await client.post("/mfa", {"code": totp.now(secret)})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    assert_sent_to_login(await client.get("/"))


async def test_a_cookie_without_the_session_version_is_refused(
    env: AdminEnv, new_client: Any
) -> None:
    """Cookies made before sessions carried a version (or forged without it) sign out."""
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer(
        SECRET,
        salt="tempest.contrib.admin.session",
        signer_kwargs={"digest_method": hashlib.sha256},
    )
    admin_id = str(env.operators[ADMIN].id)
    client = new_client()
    old = serializer.dumps({"p": admin_id, "c": "token", "m": False})
    assert_sent_to_login(await replay(client, old))
    current = serializer.dumps({"p": admin_id, "c": "token", "m": False, "v": 0, "s": "abc"})
    assert (await replay(client, current)).status_code == 200


async def test_signing_out_costs_no_statement(env: AdminEnv, admin: AdminClient) -> None:
    """The version is compared on the principal each page loads anyway: no extra SQL."""
    env.statements.clear()
    assert (await admin.get("/m/admin_t_maker/")).status_code == 200
    # the principal, the page; the count is skipped on a short first page
    assert len(env.statements) <= 3, env.statements


def test_memory_revocations_expire_and_stay_small() -> None:
    import anyio

    async def main() -> None:
        now = [1000.0]
        store = MemoryRevokedSessions(clock=lambda: now[0])
        await store.revoke("a", 10)
        assert await store.is_revoked("a")
        assert not await store.is_revoked("b")
        now[0] += 11
        assert not await store.is_revoked("a")
        for number in range(5000):
            await store.revoke(f"s{number}", 10)
        assert len(store) == 5001  # no pruning within a minute: each revoke stays O(1)
        now[0] += MemoryRevokedSessions.PRUNE_SECONDS
        await store.revoke("last", 10)
        assert len(store) == 1

    anyio.run(main)


# -- the shared store ---------------------------------------------------------------------


@pytest.fixture
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test only (never the shared one): its URL and process."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("TEMPEST_REQUIRE_SERVICES"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("the private redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _two_processes(env: AdminEnv, url: str) -> tuple[FastAPI, FastAPI]:
    """Two apps that share nothing but the database and the Redis store, like two workers."""
    return (
        operator_admin(env, revoked_sessions=RedisRevokedSessions(url)),
        operator_admin(env, revoked_sessions=RedisRevokedSessions(url)),
    )


@pytest.fixture
async def http_of() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(app: FastAPI) -> AdminClient:
        transport = httpx.ASGITransport(app=app)
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(http)
        return AdminClient(http)

    yield make
    for http in clients:
        await http.aclose()


async def test_a_logout_in_one_process_is_seen_by_another(env: AdminEnv, http_of: Any) -> None:
    url = service_url("TEMPEST_TEST_REDIS_URL")
    first, second = _two_processes(env, url)
    client = http_of(first)
    assert (await client.login()).status_code == 303
    await client.refresh_token()
    cookie = str(client.http.cookies[COOKIE])
    elsewhere = http_of(second)
    assert (await replay(elsewhere, cookie)).status_code == 200
    assert (await client.post("/logout", {})).status_code == 303
    assert_sent_to_login(await replay(elsewhere, cookie))


async def test_an_unreachable_store_fails_closed(
    env: AdminEnv, http_of: Any, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = private_redis
    app, _ = _two_processes(env, url)
    client = http_of(app)
    assert (await client.login()).status_code == 303
    await client.refresh_token()
    cookie = str(client.http.cookies[COOKIE])
    assert (await replay(client, cookie)).status_code == 200
    process.kill()
    process.wait()

    page = await replay(client, cookie)
    assert page.status_code == 503
    assert page.headers["retry-after"] == "5"
    assert "ADMIN_REVOKED_SESSIONS_URL" in page.text
    logout = await client.post("/logout", {})
    assert logout.status_code == 503
    assert "ADMIN_REVOKED_SESSIONS_URL" in logout.text
    assert 'tempest_admin=""' in logout.headers.get("set-cookie", "")  # gone from this browser
