"""Sign-in with an OpenID Connect provider through /api/auth/oauth, end to end over HTTP.

The provider is real: oidc-provider-mock (authlib) on loopback. The browser is httpx: it
follows /start to the provider's page, presses "Authorize" there, and brings the
redirect back to /callback, cookies and all. Each bad input of the issue is a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from tempest.contrib.auth.oauth_models import BaseUserOAuthAccountModel
from tempest.db import get_database
from tests.conftest import _database_url
from tests.contrib.auth.conftest import AuthEnv, Build
from tests.contrib.auth.oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    authorize_at_mock,
    deny_at_mock,
    oidc_provider,
    query_of,
    set_mock_user,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.usefixtures("restore_root_logging"),
    pytest.mark.filterwarnings("ignore:.*deprecated"),  # authlib's, in oidc-provider-mock
]

AUTH = "/api/auth"


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PostgreSQL only: the flow is database-agnostic, and the suite must stay fast."""
    return _database_url("postgresql", tmp_path_factory)


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    """One real OpenID provider for the module."""
    with oidc_provider() as url:
        yield url


def provider_settings(issuer: str, **extra: Any) -> dict[str, Any]:
    return {
        "AUTH_OAUTH_PROVIDERS": {
            "mock": {
                "discovery_url": f"{issuer}/.well-known/openid-configuration",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "title": "Mock SSO",
            }
        },
        "AUTH_OAUTH_COOKIE_SECURE": False,  # http://testserver
    } | extra


@pytest.fixture
async def env(build: Build, issuer: str) -> AuthEnv:
    return await build(**provider_settings(issuer))


async def start(env: AuthEnv, provider: str = "mock") -> str:
    """GET /start: the provider's authorization URL (the pending cookie is in the jar)."""
    response = await env.http.get(f"{AUTH}/oauth/{provider}/start")
    assert response.status_code == 303, response.text
    assert "tempest_oauth" in env.http.cookies
    return response.headers["location"]


async def callback(env: AuthEnv, redirect: str) -> Any:
    """Follow the provider's redirect back to the app (the URL points at SITE_URL)."""
    parts = redirect.split("?", 1)
    assert parts[0] == f"http://testserver{AUTH}/oauth/mock/callback"
    return await env.http.get(f"{AUTH}/oauth/mock/callback?{parts[1]}")


async def sign_in(env: AuthEnv, issuer: str, sub: str, claims: dict[str, Any]) -> Any:
    set_mock_user(issuer, sub, claims)
    return await callback(env, authorize_at_mock(await start(env), sub))


async def links(email: str | None = None) -> int:
    async with get_database().session_factory() as session:
        model = next(
            m
            for m in BaseUserOAuthAccountModel.__subclasses__()
            if m.__tablename__ == "auth_user_oauth_account"
        )
        query = select(func.count()).select_from(model)
        if email is not None:
            query = query.where(model.email == email)
        return int(await session.scalar(query) or 0)


# -- the happy path ------------------------------------------------------------------------


async def test_start_redirects_with_pkce_state_and_nonce(env: AuthEnv, issuer: str) -> None:
    response = await env.http.get(f"{AUTH}/oauth/mock/start")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(f"{issuer}/oauth2/authorize?")
    query = query_of(location)
    assert query["response_type"] == "code"
    assert query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert set(query["scope"].split()) == {"openid", "email", "profile"}
    assert query["redirect_uri"] == f"http://testserver{AUTH}/oauth/mock/callback"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert f"path={AUTH}/oauth/mock/callback" in cookie
    assert "max-age=600" in cookie


async def test_secure_cookie_unless_debug(build: Build, issuer: str) -> None:
    settings = provider_settings(issuer)
    del settings["AUTH_OAUTH_COOKIE_SECURE"]
    env = await build(**settings)
    response = await env.http.get(f"{AUTH}/oauth/mock/start")
    assert "secure" in response.headers["set-cookie"].lower()


async def test_full_sign_in_creates_the_user_and_returns_tempest_tokens(
    env: AuthEnv, issuer: str
) -> None:
    claims = {"email": "Nora@Example.com", "email_verified": True, "name": "Nora"}
    response = await sign_in(env, issuer, "nora-sub", claims)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert 'tempest_oauth=""' in response.headers["set-cookie"]  # the pending sign-in is over
    tokens = response.json()
    assert set(tokens) >= {"access_token", "refresh_token", "expires_in"}
    me = await env.http.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["email"] == "nora@example.com"
    refreshed = await env.http.post(
        f"{AUTH}/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200  # tempest's own refresh tokens, rotated as usual
    assert await links("nora@example.com") == 1

    # The second sign-in finds the link: same user, no new row.
    again = await sign_in(env, issuer, "nora-sub", claims | {"email": "other@example.com"})
    assert again.status_code == 200, again.text
    me2 = await env.http.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}
    )
    assert me2.json()["id"] == me.json()["id"]
    assert await links() == 1


async def test_verified_email_links_the_existing_account(env: AuthEnv, issuer: str) -> None:
    await env.active_user("ines@example.com")
    password_login = await env.tokens("ines@example.com")
    response = await sign_in(
        env, issuer, "ines-sub", {"email": "ines@example.com", "email_verified": True}
    )
    assert response.status_code == 200, response.text
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = (await env.http.get(f"{AUTH}/me", headers=headers)).json()
    mine = {"Authorization": f"Bearer {password_login['access_token']}"}
    assert me["id"] == (await env.http.get(f"{AUTH}/me", headers=mine)).json()["id"]
    assert await links("ines@example.com") == 1


async def test_account_with_mfa_gets_the_mfa_challenge(env: AuthEnv, issuer: str) -> None:
    from tempest.contrib.auth.models import User

    await env.active_user("mia@example.com")
    async with get_database().session_factory() as session:
        user = await session.scalar(select(User).where(User.email == "mia@example.com"))
        assert user is not None
        user.mfa_enabled, user.mfa_secret = True, "JBSWY3DPEHPK3PXP"
        await session.commit()
    response = await sign_in(
        env, issuer, "mia-sub", {"email": "mia@example.com", "email_verified": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True and "access_token" not in body


async def test_success_url_gets_the_tokens_in_the_fragment(build: Build, issuer: str) -> None:
    env = await build(
        **provider_settings(issuer, AUTH_OAUTH_SUCCESS_URL="https://app.example/signed-in")
    )
    response = await sign_in(
        env, issuer, "fay-sub", {"email": "fay@example.com", "email_verified": True}
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("https://app.example/signed-in#access_token=")
    assert "refresh_token=" in location


async def test_providers_are_listed(env: AuthEnv) -> None:
    response = await env.http.get(f"{AUTH}/oauth/providers")
    assert response.json() == [
        {"name": "mock", "title": "Mock SSO", "start_url": f"{AUTH}/oauth/mock/start"}
    ]


# -- bad input -----------------------------------------------------------------------------


def assert_envelope(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code", "details"}
    assert body["code"] == code, body


async def test_unknown_provider_is_404(env: AuthEnv) -> None:
    for path in ("/oauth/nope/start", "/oauth/nope/callback?code=x&state=y"):
        assert_envelope(await env.http.get(f"{AUTH}{path}"), 404, "OAUTH_UNKNOWN_PROVIDER")


async def test_missing_state_is_refused(env: AuthEnv, issuer: str) -> None:
    set_mock_user(issuer, "sam-sub", {"email": "sam@example.com", "email_verified": True})
    redirect = authorize_at_mock(await start(env), "sam-sub")
    code = query_of(redirect)["code"]
    response = await env.http.get(f"{AUTH}/oauth/mock/callback?code={code}")
    assert_envelope(response, 400, "OAUTH_STATE_MISMATCH")
    assert await links() == 0


async def test_forged_state_is_refused(env: AuthEnv, issuer: str) -> None:
    set_mock_user(issuer, "sam-sub", {"email": "sam@example.com", "email_verified": True})
    redirect = authorize_at_mock(await start(env), "sam-sub")
    code = query_of(redirect)["code"]
    response = await env.http.get(f"{AUTH}/oauth/mock/callback?code={code}&state=forged")
    assert_envelope(response, 400, "OAUTH_STATE_MISMATCH")


@pytest.mark.parametrize(
    "query",
    [
        "code=%00&state=%00",
        "code=%ED%A0%80&state=%ED%A0%80",  # a lone surrogate, UTF-8 encoded
        "code=%FF%FE&state=%FF",  # not UTF-8
        "code=" + "a" * 20_000 + "&state=" + "b" * 20_000,
        "error=%00&error_description=%ED%A0%80",
    ],
)
async def test_hostile_callback_parameters_are_a_4xx(env: AuthEnv, issuer: str, query: str) -> None:
    await start(env)  # a pending sign-in: the parameters are really read
    response = await env.http.get(f"{AUTH}/oauth/mock/callback?{query}")
    assert 400 <= response.status_code < 500, response.text
    assert {"detail", "code", "details"} <= set(response.json())
    assert await links() == 0


async def test_login_csrf_callback_without_the_pending_cookie_is_refused(
    env: AuthEnv, issuer: str
) -> None:
    # The attacker signs in at the provider and sends their callback URL to a victim,
    # whose browser never started a sign-in: no cookie, no sign-in.
    set_mock_user(issuer, "eve-sub", {"email": "eve@example.com", "email_verified": True})
    redirect = authorize_at_mock(await start(env), "eve-sub")
    env.http.cookies.clear()
    assert_envelope(await callback(env, redirect), 400, "OAUTH_NO_PENDING_SIGN_IN")
    assert await links() == 0


async def test_tampered_or_foreign_cookie_is_refused(env: AuthEnv, issuer: str) -> None:
    set_mock_user(issuer, "eve-sub", {"email": "eve@example.com", "email_verified": True})
    redirect = authorize_at_mock(await start(env), "eve-sub")
    value = env.http.cookies["tempest_oauth"]
    env.http.cookies.clear()
    env.http.cookies.set("tempest_oauth", value[:-2] + "xx", path=f"{AUTH}/oauth/mock/callback")
    assert_envelope(await callback(env, redirect), 400, "OAUTH_NO_PENDING_SIGN_IN")


async def test_provider_error_response_is_refused(env: AuthEnv) -> None:
    redirect = deny_at_mock(await start(env))
    assert query_of(redirect)["error"] == "access_denied"
    response = await callback(env, redirect)
    assert_envelope(response, 400, "OAUTH_DENIED")
    assert response.json()["details"]["error"] == "access_denied"
    weird = await env.http.get(f"{AUTH}/oauth/mock/callback?error=%3Cscript%3E")
    assert_envelope(weird, 400, "OAUTH_DENIED")
    assert weird.json()["details"]["error"] == "invalid_error"


async def test_a_used_code_is_refused(env: AuthEnv, issuer: str) -> None:
    set_mock_user(issuer, "ugo-sub", {"email": "ugo@example.com", "email_verified": True})
    url = await start(env)
    redirect = authorize_at_mock(url, "ugo-sub")
    cookie = env.http.cookies["tempest_oauth"]
    assert (await callback(env, redirect)).status_code == 200
    env.http.cookies.set("tempest_oauth", cookie, path=f"{AUTH}/oauth/mock/callback")
    assert_envelope(await callback(env, redirect), 400, "OAUTH_SIGN_IN_REFUSED")


async def test_unverified_email_does_not_link_the_existing_account(
    env: AuthEnv, issuer: str
) -> None:
    await env.active_user("vic@example.com")
    response = await sign_in(
        env, issuer, "mallory", {"email": "vic@example.com", "email_verified": False}
    )
    assert_envelope(response, 403, "OAUTH_EMAIL_UNVERIFIED")
    assert await links() == 0
    # A missing email_verified claim counts as unverified too.
    response = await sign_in(env, issuer, "mallory2", {"email": "vic@example.com"})
    assert_envelope(response, 403, "OAUTH_EMAIL_UNVERIFIED")
    assert await links() == 0
    assert (await env.login("vic@example.com")).status_code == 200  # the account is untouched


async def test_no_account_and_creating_off_is_refused(build: Build, issuer: str) -> None:
    env = await build(**provider_settings(issuer, AUTH_OAUTH_CREATE_USERS=False))
    response = await sign_in(
        env, issuer, "new-sub", {"email": "new@example.com", "email_verified": True}
    )
    assert_envelope(response, 403, "OAUTH_NO_ACCOUNT")


async def test_inactive_account_is_refused(env: AuthEnv, issuer: str) -> None:
    await env.signup("ivo@example.com")  # never activated
    response = await sign_in(
        env, issuer, "ivo-sub", {"email": "ivo@example.com", "email_verified": True}
    )
    assert_envelope(response, 403, "ACCOUNT_INACTIVE")


async def test_provider_down_the_app_starts_and_answers_503(build: Build) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = await build(**provider_settings(f"http://127.0.0.1:{port}"))
    assert (await env.http.get("/api/health")).status_code in (200, 404)
    response = await env.http.get(f"{AUTH}/oauth/mock/start")
    assert_envelope(response, 503, "OAUTH_PROVIDER_UNAVAILABLE")
    assert response.headers["retry-after"] == "30"
