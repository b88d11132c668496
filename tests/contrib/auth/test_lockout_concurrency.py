"""Lockouts and one-time codes hold when the guesses arrive all at once.

Each attack fires its requests concurrently (``asyncio.gather`` through httpx's ASGI
transport) and counts how many bcrypt or TOTP checks really ran: an attempt is reserved
before the slow check, so at most ``AUTH_MAX_LOGIN_ATTEMPTS`` guesses are evaluated per
window, whatever the concurrency. Every test runs with the in-process throttle and with
Redis (``AUTH_THROTTLE_URL``), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

import httpx
import pyotp
import pytest

from tests.conftest import service_url
from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build, PrivateRedis
from tests.contrib.conftest import Checks

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
EMAIL = "ana@example.com"
MAX_ATTEMPTS = 3


@pytest.fixture(params=["memory", "redis"])
def throttle_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``AUTH_THROTTLE_URL``: the in-process throttle, or the test Redis (keys removed after)."""
    if request.param == "memory":
        yield "memory://"
        return
    url = service_url("TEMPEST_TEST_REDIS_URL")
    yield url
    asyncio.run(_delete_throttle_keys(url))


async def _delete_throttle_keys(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match="tempest:throttle:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def api(build: Build, throttle_url: str) -> AuthEnv:
    """The auth API with 3 attempts per account, on the chosen throttle backend."""
    env = await build(
        AUTH_MAX_LOGIN_ATTEMPTS=MAX_ATTEMPTS,
        AUTH_REQUIRE_ACTIVATION=False,
        AUTH_THROTTLE_URL=throttle_url,
    )
    await _delete_throttle_keys_if_redis(throttle_url)
    return env


async def _delete_throttle_keys_if_redis(url: str) -> None:
    if url.startswith("redis"):
        await _delete_throttle_keys(url)


async def login(
    http: httpx.AsyncClient, email: str, password: str, **headers: str
) -> httpx.Response:
    return await http.post(
        f"{AUTH}/login", json={"email": email, "password": password}, headers=headers
    )


async def signup(env: AuthEnv, email: str) -> None:
    response = await env.signup(email)
    assert response.status_code in (201, 202), response.text


# -- one account, many guesses at once ----------------------------------------------------


async def test_wrong_passwords_in_flight_do_not_let_the_right_one_through(
    api: AuthEnv, checks: Checks
) -> None:
    await signup(api, EMAIL)
    wrong = [f"wrong password {n}" for n in range(20)]
    responses = await asyncio.gather(
        *(login(api.http, EMAIL, password) for password in [*wrong, PASSWORD])
    )
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= MAX_ATTEMPTS, statuses
    assert statuses.count(429) >= 21 - MAX_ATTEMPTS, statuses
    right = responses[-1]
    if PASSWORD in checks.passwords:  # among the few evaluated: it may sign in
        assert right.status_code == 200, right.text
    else:
        assert right.status_code == 429, right.text
        assert right.json()["code"] == "TOO_MANY_REQUESTS"
        # The account stays locked for the right password too.
        assert (await login(api.http, EMAIL, PASSWORD)).status_code == 429
    assert len(checks.passwords) <= MAX_ATTEMPTS + 1


async def test_a_burst_of_wrong_mfa_codes_is_evaluated_at_most_max_times(
    api: AuthEnv, checks: Checks
) -> None:
    await signup(api, EMAIL)
    tokens = (await login(api.http, EMAIL, PASSWORD)).json()
    enrolled = await api.http.post(
        f"{AUTH}/mfa/enroll", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    secret = enrolled.json()["secret"]
    confirmed = await api.http.post(
        f"{AUTH}/mfa/confirm",
        json={"code": pyotp.TOTP(secret).now()},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert confirmed.status_code == 200, confirmed.text
    challenge = (await login(api.http, EMAIL, PASSWORD)).json()
    current = pyotp.TOTP(secret)
    wrong = [
        f"{n:06d}"
        for n in range(100_000, 1_000_000, 7919)
        if f"{n:06d}" not in {current.at(time.time() + 30 * d) for d in (-1, 0, 1)}
    ][:100]
    checks.codes.clear()
    responses = await asyncio.gather(
        *(
            api.http.post(
                f"{AUTH}/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": code}
            )
            for code in wrong
        )
    )
    statuses = [response.status_code for response in responses]
    assert len(checks.codes) <= MAX_ATTEMPTS, statuses
    assert set(statuses) <= {401, 429}
    assert statuses.count(429) >= 100 - MAX_ATTEMPTS


# -- one client, many accounts --------------------------------------------------------------


async def test_trying_many_accounts_once_each_from_one_client_is_throttled(
    api: AuthEnv, checks: Checks
) -> None:
    emails = [f"user{n}@example.com" for n in range(25)]
    responses = await asyncio.gather(*(login(api.http, email, "guess 1") for email in emails))
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= 20, statuses  # AUTH_MAX_ATTEMPTS_PER_CLIENT
    assert statuses.count(429) >= 5, statuses
    # Another client is not throttled by this one.
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app, client=("203.0.113.9", 4000)),
        base_url="http://testserver",
    )
    async with other:
        assert (await login(other, "someone@example.com", "guess")).status_code == 401


async def test_x_forwarded_for_from_an_untrusted_peer_does_not_change_the_client(
    api: AuthEnv, checks: Checks
) -> None:
    responses = await asyncio.gather(
        *(
            login(
                api.http,
                f"user{n}@example.com",
                "guess 1",
                **{"X-Forwarded-For": f"198.51.100.{n}", "Forwarded": f"for=198.51.100.{n}"},
            )
            for n in range(25)
        )
    )
    statuses = [response.status_code for response in responses]
    assert len(checks.passwords) <= 20, statuses
    assert statuses.count(429) >= 5, statuses


async def test_a_trusted_proxy_s_forwarded_for_names_the_client(
    build: Build, throttle_url: str, checks: Checks
) -> None:
    env = await build(
        AUTH_MAX_LOGIN_ATTEMPTS=MAX_ATTEMPTS,
        AUTH_THROTTLE_URL=throttle_url,
        TRUSTED_PROXIES=["127.0.0.0/8"],
    )
    await _delete_throttle_keys_if_redis(throttle_url)
    responses = await asyncio.gather(
        *(
            login(
                env.http,
                f"user{n}@example.com",
                "guess 1",
                **{"X-Forwarded-For": f"198.51.100.{n}"},
            )
            for n in range(25)
        )
    )
    assert [response.status_code for response in responses] == [401] * 25
    assert len(checks.passwords) == 25


async def test_garbage_client_headers_never_fail_the_sign_in(build: Build) -> None:
    env = await build(TRUSTED_PROXIES=["127.0.0.0/8", "::1/128"])
    headers = [
        {"X-Forwarded-For": "not an ip, , ;;;"},
        {"X-Forwarded-For": "1.2.3.4\x00"},
        {"X-Forwarded-For": "[::1, 999.1.1.1, ]]"},
        {"Forwarded": 'for="[2001:db8::1'},
        {"Forwarded": "for=;for=,,;by=x;for=unknown"},
        {"Forwarded": "for=_hidden, for=" + "9" * 5000},
        {"X-Forwarded-For": ",".join(["10.0.0.1"] * 2000)},
        {"X-Forwarded-For": "\u00e9t\u00e9"},
    ]
    for extra in headers:
        raw = {name.encode(): value.encode("utf-8") for name, value in extra.items()}
        response = await env.http.post(
            f"{AUTH}/login", json={"email": EMAIL, "password": "wrong password"}, headers=raw
        )
        assert response.status_code in (401, 429), (extra, response.text)


# -- the API and the admin share one counter ----------------------------------------------


class AdminForm:
    """Sign in through the admin's HTML form."""

    _TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def login(self, email: str, password: str) -> httpx.Response:
        import html
        from urllib.parse import urlencode

        page = await self.http.get("/admin/login")
        assert page.status_code == 200, page.text
        found = self._TOKEN.search(page.text)
        assert found is not None, page.text
        form = {"username": email, "password": password, "csrf_token": html.unescape(found[1])}
        return await self.http.post(
            "/admin/login",
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )


async def test_api_and_admin_failures_add_up_on_one_counter(
    build: Build, throttle_url: str, checks: Checks
) -> None:
    env = await build(
        INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.admin"],
        AUTH_MAX_LOGIN_ATTEMPTS=MAX_ATTEMPTS,
        AUTH_REQUIRE_ACTIVATION=False,
        AUTH_THROTTLE_URL=throttle_url,
        ADMIN_COOKIE_SECURE=False,
    )
    await _delete_throttle_keys_if_redis(throttle_url)
    await signup(env, EMAIL)
    admin = AdminForm(env.http)
    assert (await login(env.http, EMAIL, "wrong 1")).status_code == 401
    assert (await admin.login(EMAIL.upper(), "wrong 2")).status_code == 400
    # The third failure, wherever it is made, uses up the account's attempts.
    assert (await login(env.http, EMAIL, "wrong 3")).status_code == 429
    assert (await login(env.http, EMAIL, PASSWORD)).status_code == 429
    assert (await admin.login(EMAIL, PASSWORD)).status_code == 429
    assert len(checks.passwords) == MAX_ATTEMPTS

    # And concurrently: a burst split between the two doors is evaluated 3 times at most.
    await signup(env, "bea@example.com")
    checks.passwords.clear()
    burst = await asyncio.gather(
        *(
            login(env.http, "bea@example.com", f"api {n}")
            if n % 2
            else admin.login("bea@example.com", f"admin {n}")
            for n in range(20)
        )
    )
    assert len(checks.passwords) <= MAX_ATTEMPTS, [r.status_code for r in burst]


# -- the shared backend is down -------------------------------------------------------------


async def test_sign_in_fails_closed_when_the_throttle_s_redis_is_down(
    build: Build, private_redis: PrivateRedis, checks: Checks
) -> None:
    env = await build(
        INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.admin"],
        AUTH_REQUIRE_ACTIVATION=False,
        AUTH_THROTTLE_URL=private_redis.url,
        ADMIN_COOKIE_SECURE=False,
    )
    await signup(env, EMAIL)
    assert (await login(env.http, EMAIL, PASSWORD)).status_code == 200
    private_redis.kill()
    checks.passwords.clear()
    started = time.monotonic()
    down = await login(env.http, EMAIL, PASSWORD)
    assert down.status_code == 503, down.text
    body = down.json()
    assert body["code"] == "THROTTLE_UNAVAILABLE"
    assert set(body) == {"detail", "code", "details"}
    assert checks.passwords == []  # nothing was evaluated unthrottled
    page = await AdminForm(env.http).login(EMAIL, PASSWORD)
    assert page.status_code == 503, page.text
    assert "unavailable" in page.text
    assert checks.passwords == []
    assert time.monotonic() - started < 10
    # Redis back (empty): sign-in works again, with no restart of the app.
    private_redis.start()
    assert (await login(env.http, EMAIL, PASSWORD)).status_code == 200


def test_an_unknown_throttle_url_names_the_setting() -> None:
    from pydantic import ValidationError

    from tempest.conf import Settings
    from tempest.contrib.auth.throttling import throttle_backend_from_url
    from tempest.exceptions import ImproperlyConfigured

    with pytest.raises(ValidationError, match="AUTH_THROTTLE_URL"):
        Settings(AUTH_THROTTLE_URL="memcached://x")
    with pytest.raises(ImproperlyConfigured, match="AUTH_THROTTLE_URL must be 'memory://'"):
        throttle_backend_from_url("memcached://x")
