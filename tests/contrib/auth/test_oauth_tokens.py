"""Forged ID tokens and GitHub's emails, through the whole /api/auth/oauth flow.

A scripted provider on loopback serves a discovery document and a JWKS of keys the
tests hold, and answers the token request with the ID token a test signed: wrong
audience, issuer or nonce, expired, ``alg: none``, HS256 with the client secret, an
unknown key. GitHub (a third party that cannot run here) is the same scripted server
answering its token endpoint and ``/user`` and ``/user/emails``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tempest.contrib.auth.oauth_tokens import IDTokenError, JWKSCache
from tests.conftest import _database_url
from tests.contrib.auth.conftest import AuthEnv, Build
from tests.contrib.auth.oauth_fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    ScriptedServer,
    SigningKey,
    id_token,
    new_key,
    query_of,
    scripted_server,
    serve_oidc,
    standard_claims,
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
def keys() -> list[SigningKey]:
    return [new_key("rsa-1", "RS256"), new_key("ec-1", "ES256")]


@pytest.fixture
def idp(keys: list[SigningKey]) -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        serve_oidc(server, keys)
        yield server


def settings_for(idp: ScriptedServer, **extra: Any) -> dict[str, Any]:
    return {
        "AUTH_OAUTH_PROVIDERS": {
            "corp": {
                "discovery_url": f"{idp.url}/.well-known/openid-configuration",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            }
        },
        "AUTH_OAUTH_COOKIE_SECURE": False,
    } | extra


@pytest.fixture
async def env(build: Build, idp: ScriptedServer) -> AuthEnv:
    return await build(**settings_for(idp))


async def callback_with(env: AuthEnv, idp: ScriptedServer, make: Any) -> Any:
    """Start a sign-in; answer its token request with ``make(nonce)``; run the callback."""
    started = await env.http.get(f"{AUTH}/oauth/corp/start")
    assert started.status_code == 303, started.text
    query = query_of(started.headers["location"])
    idp.answer(
        "POST",
        "/token",
        {"access_token": "at", "token_type": "Bearer", "id_token": make(query["nonce"])},
    )
    return await env.http.get(f"{AUTH}/oauth/corp/callback?code=the-code&state={query['state']}")


def refused(response: Any, reason: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "OAUTH_SIGN_IN_REFUSED", body
    assert reason in body["details"]["reason"], body


async def test_a_valid_token_signs_in_and_the_code_is_exchanged_with_the_verifier(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    import base64
    import hashlib

    started = await env.http.get(f"{AUTH}/oauth/corp/start")
    query = query_of(started.headers["location"])
    token = id_token(keys[0], standard_claims(idp.url, query["nonce"]))
    idp.answer("POST", "/token", {"access_token": "at", "id_token": token})
    response = await env.http.get(f"{AUTH}/oauth/corp/callback?code=c0de&state={query['state']}")
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()
    (_, _, headers, form) = next(r for r in idp.requests if r[1] == "/token")
    verifier = form["code_verifier"][0]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert form["code"] == ["c0de"] and form["grant_type"] == ["authorization_code"]
    assert headers["Authorization"].startswith("Basic ")


async def test_es256_tokens_are_accepted(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    response = await callback_with(
        env, idp, lambda nonce: id_token(keys[1], standard_claims(idp.url, nonce))
    )
    assert response.status_code == 200, response.text


async def test_wrong_audience_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    response = await callback_with(
        env,
        idp,
        lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce, aud="someone-else")),
    )
    refused(response, "aud")


async def test_several_audiences_without_our_azp_are_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    claims = {"aud": [CLIENT_ID, "other"], "azp": "other"}
    response = await callback_with(
        env, idp, lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce, **claims))
    )
    refused(response, "azp")


async def test_wrong_issuer_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    response = await callback_with(
        env, idp, lambda nonce: id_token(keys[0], standard_claims("https://evil.example", nonce))
    )
    refused(response, "iss")


async def test_wrong_nonce_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    response = await callback_with(
        env, idp, lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce + "x"))
    )
    refused(response, "nonce")


async def test_missing_nonce_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    def make(nonce: str) -> str:
        claims = standard_claims(idp.url, nonce)
        del claims["nonce"]
        return id_token(keys[0], claims)

    refused(await callback_with(env, idp, make), "nonce")


async def test_expired_token_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    past = int(time.time()) - 3600
    response = await callback_with(
        env,
        idp,
        lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce, iat=past, exp=past + 300)),
    )
    refused(response, "expired")


async def test_token_issued_in_the_future_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    later = int(time.time()) + 3600
    response = await callback_with(
        env,
        idp,
        lambda nonce: id_token(
            keys[0], standard_claims(idp.url, nonce, iat=later, exp=later + 300)
        ),
    )
    refused(response, "iat")


async def test_alg_none_is_refused(env: AuthEnv, idp: ScriptedServer) -> None:
    response = await callback_with(
        env,
        idp,
        lambda nonce: jwt.encode(
            standard_claims(idp.url, nonce),
            None,  # type: ignore[arg-type]
            algorithm="none",
            headers={"kid": "rsa-1"},
        ),
    )
    refused(response, "algorithm 'none'")


async def test_hs256_signed_with_the_client_secret_is_refused(
    env: AuthEnv, idp: ScriptedServer
) -> None:
    response = await callback_with(
        env,
        idp,
        lambda nonce: jwt.encode(
            standard_claims(idp.url, nonce),
            CLIENT_SECRET,
            algorithm="HS256",
            headers={"kid": "rsa-1"},
        ),
    )
    refused(response, "algorithm 'HS256'")


async def test_rs256_header_over_an_ec_key_is_refused(
    env: AuthEnv, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    # Signed with the RSA key but naming the EC key's kid: no key fits.
    response = await callback_with(
        env, idp, lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce), kid="ec-1")
    )
    refused(response, "no signing key")


async def test_unknown_kid_is_refused_without_a_refetch_storm(
    env: AuthEnv, idp: ScriptedServer
) -> None:
    stranger = new_key("stranger")
    for _ in range(3):
        response = await callback_with(
            env, idp, lambda nonce: id_token(stranger, standard_claims(idp.url, nonce))
        )
        refused(response, "no signing key 'stranger'")
    # Fetched once on first use; the unknown kid right after is within the cool-down.
    assert idp.hits("/jwks") == 1


async def test_rotated_key_is_picked_up_by_one_refetch(
    build: Build, idp: ScriptedServer, keys: list[SigningKey]
) -> None:
    env = await build(**settings_for(idp, AUTH_OAUTH_JWKS_COOLDOWN_SECONDS=0))
    first = await callback_with(
        env, idp, lambda nonce: id_token(keys[0], standard_claims(idp.url, nonce))
    )
    assert first.status_code == 200 and idp.hits("/jwks") == 1
    rotated = new_key("rsa-2")
    serve_oidc(idp, [rotated])
    second = await callback_with(
        env, idp, lambda nonce: id_token(rotated, standard_claims(idp.url, nonce))
    )
    assert second.status_code == 200, second.text
    assert idp.hits("/jwks") == 2


async def test_token_endpoint_error_is_refused(env: AuthEnv, idp: ScriptedServer) -> None:
    started = await env.http.get(f"{AUTH}/oauth/corp/start")
    state = query_of(started.headers["location"])["state"]
    idp.answer("POST", "/token", {"error": "invalid_grant"}, status=400)
    response = await env.http.get(f"{AUTH}/oauth/corp/callback?code=used&state={state}")
    assert response.status_code == 400 and response.json()["code"] == "OAUTH_SIGN_IN_REFUSED"


async def test_provider_failing_at_the_token_endpoint_is_502_or_503(
    env: AuthEnv, idp: ScriptedServer
) -> None:
    for status, body, code in (
        (500, {}, "OAUTH_PROVIDER_UNAVAILABLE"),
        (200, ["x"], "OAUTH_PROVIDER_ERROR"),
        (200, {"access_token": "a"}, "OAUTH_PROVIDER_ERROR"),
    ):
        started = await env.http.get(f"{AUTH}/oauth/corp/start")
        state = query_of(started.headers["location"])["state"]
        idp.answer("POST", "/token", body, status=status)
        response = await env.http.get(f"{AUTH}/oauth/corp/callback?code=c&state={state}")
        assert response.json()["code"] == code, (status, body, response.text)
        assert response.status_code in (502, 503)


# -- the key cache alone -------------------------------------------------------------------


async def test_concurrent_unknown_kids_refetch_once_per_cooldown(keys: list[SigningKey]) -> None:
    fetches: list[str] = []
    now = [1000.0]

    async def fetch(url: str) -> dict[str, Any]:
        fetches.append(url)
        await asyncio.sleep(0.01)
        return {"keys": [keys[0].jwk]}

    cache = JWKSCache("https://idp/jwks", fetch, max_age=3600, cooldown=60, clock=lambda: now[0])
    await cache.key("rsa-1", "RS256")
    assert len(fetches) == 1
    now[0] += 61  # past the cool-down: 50 forged tokens at once cause one refetch
    results = await asyncio.gather(
        *(cache.key(f"bad-{i}", "RS256") for i in range(50)), return_exceptions=True
    )
    assert all(isinstance(result, IDTokenError) for result in results)
    assert len(fetches) == 2
    now[0] += 10  # within the cool-down: none
    with pytest.raises(IDTokenError):
        await cache.key("bad-again", "RS256")
    assert len(fetches) == 2
    now[0] += 3600  # the cached set is stale: fetched again on use
    await cache.key("rsa-1", "RS256")
    assert len(fetches) == 3


# -- GitHub ----------------------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[ScriptedServer]:
    with scripted_server() as server:
        server.answer(
            "POST", "/login/oauth/access_token", {"access_token": "gho_x", "token_type": "bearer"}
        )
        server.answer("GET", "/user", {"id": 4242, "login": "octo", "name": "Octo Cat"})
        yield server


async def github_env(build: Build, github: ScriptedServer) -> AuthEnv:
    return await build(
        AUTH_OAUTH_PROVIDERS={
            "github": {
                "client_id": "gh-client",
                "client_secret": "gh-secret",
                "authorize_url": f"{github.url}/login/oauth/authorize",
                "token_url": f"{github.url}/login/oauth/access_token",
                "api_url": github.url,
            }
        },
        AUTH_OAUTH_COOKIE_SECURE=False,
    )


async def github_callback(env: AuthEnv) -> Any:
    started = await env.http.get(f"{AUTH}/oauth/github/start")
    assert started.status_code == 303, started.text
    query = query_of(started.headers["location"])
    assert "nonce" not in query and query["code_challenge_method"] == "S256"
    assert set(query["scope"].split()) == {"read:user", "user:email"}
    return await env.http.get(f"{AUTH}/oauth/github/callback?code=gh-code&state={query['state']}")


async def test_github_verified_primary_email_signs_in(build: Build, github: ScriptedServer) -> None:
    github.answer(
        "GET",
        "/user/emails",
        [
            {"email": "old@example.com", "primary": False, "verified": True},
            {"email": "octo@example.com", "primary": True, "verified": True},
        ],
    )
    env = await github_env(build, github)
    response = await github_callback(env)
    assert response.status_code == 200, response.text
    me = await env.http.get(
        f"{AUTH}/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["email"] == "octo@example.com"
    (_, _, headers, _) = next(r for r in github.requests if r[1] == "/user/emails")
    assert headers["Authorization"] == "Bearer gho_x"


async def test_github_unverified_primary_email_is_refused(
    build: Build, github: ScriptedServer
) -> None:
    github.answer(
        "GET",
        "/user/emails",
        [
            {"email": "victim@example.com", "primary": True, "verified": False},
            {"email": "mine@example.com", "primary": False, "verified": True},
        ],
    )
    env = await github_env(build, github)
    await env.active_user("victim@example.com")
    response = await github_callback(env)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "OAUTH_EMAIL_UNVERIFIED"


async def test_github_bad_code_is_refused(build: Build, github: ScriptedServer) -> None:
    # GitHub answers 200 with an error field for a bad or used code.
    github.answer("POST", "/login/oauth/access_token", {"error": "bad_verification_code"})
    env = await github_env(build, github)
    response = await github_callback(env)
    assert response.status_code == 400 and response.json()["code"] == "OAUTH_SIGN_IN_REFUSED"
