"""The bundled auth flow over HTTP: signup, activation, login, refresh, logout, reset, me.

Each test drives the router of make_auth_router on a real database (SQLite and
PostgreSQL), with real bcrypt and a real SMTP server whose messages are parsed and whose
links are followed.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tempest.contrib.auth.router import PASSWORD_RESET_REQUESTED, make_auth_router
from tempest.contrib.auth.service import UserAuthService
from tempest.db import atomic, get_database, get_session
from tempest.utils import utcnow
from tests.conftest import service_url
from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build
from tests.mail.test_sender import parts

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- bad input ----------------------------------------------------------------------------

JSON_ENDPOINTS = [
    "/signup",
    "/activate",
    "/activate/resend",
    "/login",
    "/refresh",
    "/logout",
    "/password-reset/request",
    "/password-reset/confirm",
    "/mfa/confirm",
    "/mfa/verify",
    "/mfa/disable",
]


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
async def test_malformed_json_and_missing_fields_are_422_envelopes(env: AuthEnv, path: str) -> None:
    headers = {"Content-Type": "application/json"}
    if path.startswith("/mfa/") and path != "/mfa/verify":
        await env.active_user("ana@example.com")
        headers |= bearer((await env.tokens("ana@example.com"))["access_token"])
    for content in (b'{"email": ', b"{}", b"[]", b"null", b'{"token": 5, "email": []}'):
        response = await env.http.post(f"{AUTH}{path}", content=content, headers=headers)
        assert response.status_code == 422, (path, content, response.text)
        body = response.json()
        assert set(body) == {"detail", "code", "details"}
        assert body["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "INVALID_EMAIL", "not a valid email"),
        ({"email": "ana@example.com", "password": "shorT7"}, "PASSWORD_INVALID", "at least 8"),
    ],
)
async def test_signup_refuses_a_bad_email_or_a_short_password(
    env: AuthEnv, payload: dict[str, str], code: str, message: str
) -> None:
    response = await env.http.post(f"{AUTH}/signup", json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert message in response.json()["detail"]
    assert env.smtp.messages == []


async def test_a_service_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="service must be a UserAuthService"):
        make_auth_router("auth")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="user_model must be a subclass of BaseUserModel"):
        UserAuthService(user_model=dict)  # type: ignore[arg-type]


async def test_the_router_builds_without_jwt_secret_and_a_request_says_what_is_missing(
    build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    env = await build(JWT_SECRET="", SECRET_KEY="x" * 40, AUTH_REQUIRE_ACTIVATION=False)
    assert (await env.signup("ana@example.com")).status_code == 202
    with caplog.at_level(logging.ERROR):
        response = await env.login("ana@example.com")
    assert response.status_code == 500
    assert "JWT_SECRET" not in response.text  # configuration stays server-side
    assert "The auth flow needs JWT_SECRET" in caplog.text


async def test_each_application_gets_its_own_auth_router(build: Build) -> None:
    from tempest.contrib.auth import routers

    env = await build()
    first = routers.router
    assert routers.router is first  # one object per settings object, with its service
    assert (await env.http.post("/api/auth/login", json={})).status_code == 422  # mounted
    await build(TITLE="Other")  # new settings: a router (and service) built from them
    assert routers.router is not first


async def test_a_project_route_wins_over_the_auth_apps_on_the_same_path(
    build: Build, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shadow"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "apps.py").write_text(
        "from tempest.apps import AppConfig\n\n\n"
        "class ShadowConfig(AppConfig):\n"
        '    name = "shadow"\n'
        '    api_prefix = "/api/auth"\n'
    )
    (package / "routers.py").write_text(
        "from fastapi import APIRouter\n\nrouter = APIRouter()\n\n\n"
        '@router.post("/login")\n'
        "async def login() -> dict[str, bool]:\n"
        '    return {"shadow": True}\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    env = await build(INSTALLED_APPS=["tempest.contrib.auth", "shadow"])
    assert (await env.http.post("/api/auth/login", json={})).json() == {"shadow": True}
    assert (await env.http.post("/api/auth/refresh", json={})).status_code == 422  # auth's


# -- signup and activation ----------------------------------------------------------------


async def test_signup_emails_an_activation_link_that_activates_the_account(env: AuthEnv) -> None:
    response = await env.signup("Ana@Example.com", **{"Accept-Language": "pt-BR,pt;q=0.9"})
    assert response.status_code == 202
    assert set(response.json()) == {"detail"}  # the same answer as for a taken email

    received = env.smtp.only
    assert received.rcpt_tos == ["ana@example.com"]
    assert received.message["Subject"] == "Ative sua conta Shop"
    link = env.last_link()
    assert link.startswith("http://testserver/api/auth/activate?token=")

    blocked = await env.login("ana@example.com")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "ACCOUNT_INACTIVE"

    page = await env.http.get(link, headers={"Accept-Language": "pt-BR"})
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "Conta ativada" in page.text

    again = await env.http.get(link)
    assert again.status_code == 400
    assert "Activation failed" in again.text
    assert (await env.login("ana@example.com")).status_code == 200


async def test_activation_token_by_api_works_once(env: AuthEnv) -> None:
    await env.signup("ana@example.com")
    token = env.last_token()
    first = await env.http.post(f"{AUTH}/activate", json={"token": token})
    assert first.status_code == 200
    second = await env.http.post(f"{AUTH}/activate", json={"token": token})
    assert second.status_code == 401
    assert second.json()["code"] == "INVALID_TOKEN"
    forged = await env.http.post(f"{AUTH}/activate", json={"token": token + "x"})
    assert forged.status_code == 401


async def test_a_lost_activation_link_can_be_sent_again(env: AuthEnv) -> None:
    await env.signup("ana@example.com")
    first = env.last_link()
    resent = await env.http.post(f"{AUTH}/activate/resend", json={"email": "ANA@example.com"})
    assert resent.status_code == 202
    assert len(env.smtp.messages) == 2 and env.smtp.messages[-1].rcpt_tos == ["ana@example.com"]
    second = env.last_link()
    assert second != first
    assert (await env.http.get(second)).status_code == 200
    assert (await env.login("ana@example.com")).status_code == 200

    # active or unknown accounts: the same answer, and no email
    for email in ("ana@example.com", "nobody@example.com"):
        again = await env.http.post(f"{AUTH}/activate/resend", json={"email": email})
        assert (again.status_code, again.json()) == (resent.status_code, resent.json())
    assert len(env.smtp.messages) == 2
    malformed = await env.http.post(f"{AUTH}/activate/resend", json={"email": "not-an-email"})
    assert malformed.status_code == 422


async def test_a_duplicate_email_is_a_conflict_when_revealed(build: Build) -> None:
    env = await build(AUTH_SIGNUP_REVEAL_EXISTING=True)  # default: 202 (test_enumeration)
    assert (await env.signup("ana@example.com")).status_code == 202
    response = await env.signup(" ANA@example.com ")
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"
    assert len(env.smtp.messages) == 1


async def test_without_required_activation_the_account_is_active_at_once(build: Build) -> None:
    env = await build(AUTH_REQUIRE_ACTIVATION=False)
    response = await env.signup("ana@example.com")
    assert response.status_code == 202
    assert env.smtp.messages == []
    assert (await env.login("ana@example.com")).status_code == 200


async def test_links_point_at_the_frontend_when_configured(build: Build) -> None:
    env = await build(AUTH_FRONTEND_URL="https://app.shop.test/")
    await env.signup("ana@example.com")
    link = env.last_link()
    assert link.startswith("https://app.shop.test/activate?token=")
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert (await env.http.post(f"{AUTH}/activate", json={"token": token})).status_code == 200


async def test_an_unreachable_mail_server_is_logged_and_the_link_can_be_resent(
    build: Build, smtp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = await build(SMTP_PORT=1)
    with caplog.at_level(logging.ERROR):
        response = await env.signup("ana@example.com")
    assert response.status_code == 202  # the email goes out after the answer
    assert "activation email not sent" in caplog.text
    # The account exists, inactive; with the mail server back, a new link can be sent.
    assert (await env.login("ana@example.com")).json()["code"] == "ACCOUNT_INACTIVE"


# -- login --------------------------------------------------------------------------------


async def test_login_gives_a_token_pair_and_me_returns_the_user(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ANA@example.com")
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 900
    me = await env.http.get(f"{AUTH}/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["email"] == "ana@example.com"
    assert me.json()["last_login_at"] is not None
    # Timestamps are UTC-aware on every backend (SQLite gives naive datetimes back).
    assert me.json()["last_login_at"].endswith(("Z", "+00:00"))
    assert me.json()["created_at"].endswith(("Z", "+00:00"))

    anonymous = await env.http.get(f"{AUTH}/me")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "UNAUTHORIZED"


async def test_unknown_email_and_wrong_password_get_the_same_answer(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    unknown = await env.login("nobody@example.com")
    wrong = await env.login("ana@example.com", "wrong password!")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert wrong.json()["code"] == "INVALID_CREDENTIALS"


async def test_an_inactive_user_cannot_log_in(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    await set_active(False)
    response = await env.login("ana@example.com")
    assert response.status_code == 403
    assert response.json()["code"] == "ACCOUNT_INACTIVE"
    # Tokens issued before stop working too.
    me = await env.http.get(f"{AUTH}/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 401
    refreshed = await env.http.post(
        f"{AUTH}/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_the_throttle_locks_after_max_failures_and_success_resets_it(
    env: AuthEnv,
) -> None:
    await env.active_user("ana@example.com")
    await env.active_user("bea@example.com")
    assert (await env.login("ana@example.com", "wrong 1")).status_code == 401
    assert (await env.login("ana@example.com", "wrong 2")).status_code == 401
    assert (await env.login("ana@example.com")).status_code == 200  # resets the count
    for attempt in range(2):
        assert (await env.login("ana@example.com", f"wrong {attempt}")).status_code == 401
    locked = await env.login("ANA@example.com", "wrong 3")
    assert locked.status_code == 429
    assert locked.json()["code"] == "TOO_MANY_REQUESTS"
    retry_after = int(locked.headers["Retry-After"])
    assert 0 < retry_after <= 900
    # Locked even with the right password; other accounts are not.
    right = await env.login("ana@example.com")
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) <= retry_after
    assert (await env.login("bea@example.com")).status_code == 200


async def test_a_redis_throttle_is_shared_by_every_process(build: Build) -> None:
    from redis.asyncio import Redis

    from tempest.utils import AttemptThrottle, RedisThrottleBackend

    client = Redis.from_url(service_url("TEMPEST_TEST_REDIS_URL"))
    prefix = f"test-auth-{uuid.uuid4().hex}:"
    try:

        def worker() -> UserAuthService:
            backend = RedisThrottleBackend(client, prefix=prefix)
            return UserAuthService(throttle=AttemptThrottle(backend, max_attempts=2))

        env = await build(AUTH_REQUIRE_ACTIVATION=False)
        for name in ("one", "other"):  # two processes of the same service
            env.app.include_router(make_auth_router(worker()), prefix=f"/api/{name}")

        async def login(where: str, password: str) -> httpx.Response:
            body = {"email": "ana@example.com", "password": password}
            return await env.http.post(f"/api/{where}/login", json=body)

        await env.signup("ana@example.com")
        assert (await login("one", "wrong 1")).status_code == 401
        locked = await login("other", "wrong 2")
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) > 0
        assert (await login("one", PASSWORD)).status_code == 429
    finally:
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


# -- refresh and logout -------------------------------------------------------------------


async def refresh(env: AuthEnv, token: str) -> httpx.Response:
    return await env.http.post(f"{AUTH}/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    first = await env.tokens("ana@example.com")
    other_session = await env.tokens("ana@example.com")

    rotated = await refresh(env, first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await env.http.get(f"{AUTH}/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200

    reused = await refresh(env, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "INVALID_TOKEN"
    # The thief may hold the new token: the whole family is revoked.
    assert (await refresh(env, second["refresh_token"])).status_code == 401
    # Another login (another family) is untouched.
    assert (await refresh(env, other_session["refresh_token"])).status_code == 200


async def test_logout_makes_the_refresh_token_unusable(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    response = await env.http.post(f"{AUTH}/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert (await refresh(env, pair["refresh_token"])).status_code == 401
    unknown = await env.http.post(f"{AUTH}/logout", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 401


async def test_an_access_token_is_not_a_refresh_token_and_the_reverse(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    assert (await refresh(env, pair["access_token"])).status_code == 401
    me = await env.http.get(f"{AUTH}/me", headers=bearer(pair["refresh_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "INVALID_TOKEN"


async def test_an_expired_refresh_token_is_refused(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    model = env.service.refresh_token_model
    await expire(model)
    response = await refresh(env, pair["refresh_token"])
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_EXPIRED"


# -- password reset -----------------------------------------------------------------------


async def request_reset(env: AuthEnv, email: str, **headers: str) -> httpx.Response:
    return await env.http.post(
        f"{AUTH}/password-reset/request", json={"email": email}, headers=headers
    )


async def confirm_reset(env: AuthEnv, token: str, password: str) -> httpx.Response:
    return await env.http.post(
        f"{AUTH}/password-reset/confirm", json={"token": token, "password": password}
    )


async def test_password_reset_by_the_emailed_link(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    response = await request_reset(env, "ana@example.com", **{"Accept-Language": "en"})
    assert response.status_code == 202
    assert env.smtp.messages[-1].message["Subject"] == "Choose a new Shop password"

    link = env.last_link()
    page = await env.http.get(link)
    assert page.status_code == 200
    assert 'action="http://testserver/api/auth/password-reset/confirm"' in page.text
    token = parse_qs(urlsplit(link).query)["token"][0]
    assert f'data-token="{token}"' in page.text

    too_short = await confirm_reset(env, token, "short")
    assert too_short.status_code == 422
    changed = await confirm_reset(env, token, "a brand new password")
    assert changed.status_code == 200

    assert (await env.login("ana@example.com")).status_code == 401
    assert (await env.login("ana@example.com", "a brand new password")).status_code == 200
    # Every session was signed out.
    assert (await refresh(env, pair["refresh_token"])).status_code == 401
    # The token works once.
    reused = await confirm_reset(env, token, "yet another password")
    assert reused.status_code == 401
    assert reused.json()["code"] == "INVALID_TOKEN"


async def test_password_reset_answers_alike_for_an_unknown_email(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    sent_before = len(env.smtp.messages)
    known = await request_reset(env, "ana@example.com")
    unknown = await request_reset(env, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json() == {"detail": PASSWORD_RESET_REQUESTED}
    assert len(env.smtp.messages) == sent_before + 1
    assert env.smtp.messages[-1].rcpt_tos == ["ana@example.com"]


async def test_an_expired_reset_token_is_refused(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    await request_reset(env, "ana@example.com")
    await expire(env.service.token_model)
    response = await confirm_reset(env, env.last_token(), "a brand new password")
    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_EXPIRED"
    assert (await env.login("ana@example.com")).status_code == 200


async def test_the_reset_page_without_a_token_says_so(env: AuthEnv) -> None:
    page = await env.http.get(f"{AUTH}/password-reset", headers={"Accept-Language": "pt-BR"})
    assert page.status_code == 400
    assert "Link inválido" in page.text
    assert "<form" not in page.text


async def test_the_reset_email_is_in_portuguese_when_asked(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    await request_reset(env, "ana@example.com", **{"Accept-Language": "pt-BR"})
    text, _ = parts(env.smtp.messages[-1].message)
    assert env.smtp.messages[-1].message["Subject"] == "Escolha uma nova senha Shop"
    assert "escolher uma nova" in text


# -- current_user_dependency --------------------------------------------------------------


async def test_current_user_dependency_loads_the_user_on_the_request_session(
    env: AuthEnv,
) -> None:
    current = env.service.current_user_dependency()
    optional = env.service.current_user_dependency(soft=True)

    @env.app.post("/rename")
    async def rename(
        user: Any = Depends(current), session: AsyncSession = Depends(get_session)
    ) -> dict[str, bool]:
        async with atomic(session):
            user.is_admin = True  # saved by the request's session: the user belongs to it
        return {"same_session": user in session}

    @env.app.get("/maybe")
    async def maybe(user: Any = Depends(optional)) -> dict[str, str | None]:
        return {"email": user.email if user is not None else None}

    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    renamed = await env.http.post("/rename", headers=bearer(pair["access_token"]))
    assert renamed.json() == {"same_session": True}
    me = await env.http.get(f"{AUTH}/me", headers=bearer(pair["access_token"]))
    assert me.json()["is_admin"] is True

    assert (await env.http.get("/maybe")).json() == {"email": None}
    assert (await env.http.get("/maybe", headers=bearer("garbage"))).json() == {"email": None}
    signed = await env.http.get("/maybe", headers=bearer(pair["access_token"]))
    assert signed.json() == {"email": "ana@example.com"}
    assert (await env.http.post("/rename", headers=bearer("garbage"))).status_code == 401


# -- helpers ------------------------------------------------------------------------------


async def set_active(active: bool) -> None:
    from tempest.contrib.auth.users import get_user_model

    model = get_user_model()
    async with get_database().get_session_context() as session:
        await session.execute(update(model).values(is_active=active))


async def expire(model: Any) -> None:
    """Move every row of ``model`` past its expiry, as time would."""
    async with get_database().get_session_context() as session:
        await session.execute(update(model).values(expires_at=utcnow().replace(year=2000)))
