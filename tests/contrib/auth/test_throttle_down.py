"""The throttle's Redis lost during a sensitive change: 503 ``THROTTLE_UNAVAILABLE``, as at
sign-in, and nothing changed; never a bare 500.

The app reaches a private ``redis-server`` through :class:`RedisLink`, a TCP link the test
cuts like a network failure: at once, or when the client sends a given command (the
``DEL`` of a throttle reset), so that Redis is lost between the attempt counted before the
check and the reset after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build, PrivateRedis
from tests.contrib.auth.test_mfa import EMAIL, app_code, bearer, enable_mfa, mfa_token, verify

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
_DEL = b"\r\n$3\r\nDEL\r\n"
"""A ``DEL`` command as redis-py sends it (RESP): what a throttle reset sends."""


class RedisLink:
    """A TCP link from the app to a Redis server, which the test can cut.

    Cutting closes every connection and the listening socket: the app sees Redis die
    (connections reset, reconnections refused).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_on: bytes | None = None
        self.was_cut = False
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"redis://127.0.0.1:{port}/0"

    def cut(self) -> None:
        """Redis is gone: close everything, accept nothing more."""
        self.was_cut = True
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()

    def cut_at(self, command: bytes) -> None:
        """Forward until the app sends ``command``, then cut instead of forwarding it."""
        self.cut_on = command

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._writers += [writer, upstream_writer]
        await asyncio.gather(
            self._pipe(reader, upstream_writer, watch=True),
            self._pipe(upstream_reader, writer, watch=False),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if watch and self.cut_on is not None and self.cut_on in data:
                    self.cut()
                    return
                target.write(data)
                await target.drain()
        except OSError:
            pass
        finally:
            target.close()


@pytest.fixture
async def link(private_redis: PrivateRedis) -> AsyncIterator[RedisLink]:
    """A link to a private Redis, for ``AUTH_THROTTLE_URL``."""
    redis_link = RedisLink(private_redis.port)
    await redis_link.start()
    yield redis_link
    redis_link.cut()


@pytest.fixture
async def env(build: Build, link: RedisLink) -> AuthEnv:
    """The auth API counting attempts in Redis through ``link``."""
    return await build(AUTH_THROTTLE_URL=link.url)


async def signed_in_with_mfa(env: AuthEnv) -> tuple[dict[str, str], list[str]]:
    """MFA on, then a fresh sign-in (by a recovery code); its headers and the other codes."""
    _, codes = await enable_mfa(env)
    signed_in = await verify(env, await mfa_token(env), recovery_code=codes[0])
    assert signed_in.status_code == 200, signed_in.text
    return bearer(signed_in.json()["access_token"]), codes[1:]


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "THROTTLE_UNAVAILABLE"
    assert set(body) == {"detail", "code", "details"}
    assert "AUTH_THROTTLE_URL" in body["detail"]


async def mfa_enabled(env: AuthEnv, headers: dict[str, str]) -> bool:
    me = await env.http.get(f"{AUTH}/me", headers=headers)  # the throttle is not involved
    assert me.status_code == 200, me.text
    enabled: bool = me.json()["mfa_enabled"]
    return enabled


async def test_disabling_mfa_answers_503_when_redis_is_down(env: AuthEnv, link: RedisLink) -> None:
    headers, codes = await signed_in_with_mfa(env)
    link.cut()
    response = await env.http.post(
        f"{AUTH}/mfa/disable", json={"recovery_code": codes[0]}, headers=headers
    )
    assert_unavailable(response)
    assert await mfa_enabled(env, headers)


async def test_disabling_mfa_answers_503_when_redis_dies_at_the_reset(
    env: AuthEnv, link: RedisLink
) -> None:
    """The code was counted and is right; Redis is lost before the count is reset."""
    headers, codes = await signed_in_with_mfa(env)
    link.cut_at(_DEL)
    response = await env.http.post(
        f"{AUTH}/mfa/disable", json={"recovery_code": codes[0]}, headers=headers
    )
    assert_unavailable(response)
    assert link.was_cut  # the reset was reached, and Redis died there
    assert await mfa_enabled(env, headers)


@pytest.mark.parametrize("when", ["down", "dies_at_the_reset"])
async def test_a_password_checked_again_answers_503_without_redis(
    env: AuthEnv, link: RedisLink, when: str
) -> None:
    """require_recent_auth: the password is counted, checked, then the count is reset."""
    await env.active_user(EMAIL)
    headers = bearer((await env.tokens(EMAIL))["access_token"])
    if when == "down":
        link.cut()
    else:
        link.cut_at(_DEL)
    changes = [
        ("/password/change", {"current_password": PASSWORD, "new_password": "another-pass-9"}),
        ("/mfa/enroll", {"password": PASSWORD}),
        ("/email/change", {"new_email": "ana@example.org", "password": PASSWORD}),
    ]
    for path, body in changes:
        assert_unavailable(await env.http.post(f"{AUTH}{path}", json=body, headers=headers))
    me = await env.http.get(f"{AUTH}/me", headers=headers)
    assert me.status_code == 200, me.text  # the password did not change: the token lives
    assert me.json()["email"] == EMAIL
    assert me.json()["mfa_enabled"] is False
    assert len(env.smtp.messages) == 1  # the activation email alone


async def test_the_login_s_second_step_answers_503_when_redis_dies_at_the_reset(
    env: AuthEnv, link: RedisLink
) -> None:
    secret, _ = await enable_mfa(env)
    token = await mfa_token(env)
    link.cut_at(_DEL)
    assert_unavailable(await verify(env, token, code=app_code(secret, steps_ahead=1)))
