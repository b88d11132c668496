"""MFA in the bundled auth flow: enrol, confirm, the login's second step, recovery, disable.

Codes come from pyotp as an authenticator app computes them; nothing is mocked.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest

from tests.contrib.auth.conftest import PASSWORD, AuthEnv

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
EMAIL = "ana@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def app_code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now, or ``steps_ahead`` periods later."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead)


async def enable_mfa(env: AuthEnv) -> tuple[str, list[str]]:
    """Sign up, enrol and confirm; return the secret and the recovery codes."""
    await env.active_user(EMAIL)
    access = (await env.tokens(EMAIL))["access_token"]
    enrolled = await env.http.post(f"{AUTH}/mfa/enroll", headers=bearer(access))
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["secret"]
    confirmed = await env.http.post(
        f"{AUTH}/mfa/confirm", json={"code": app_code(secret)}, headers=bearer(access)
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


async def mfa_token(env: AuthEnv, password: str = PASSWORD) -> str:
    response = await env.login(EMAIL, password)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mfa_required"] is True
    assert "access_token" not in body
    token: str = body["mfa_token"]
    return token


async def verify(env: AuthEnv, token: str, **proof: str) -> Any:
    return await env.http.post(f"{AUTH}/mfa/verify", json={"mfa_token": token, **proof})


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proof",
    [{}, {"code": "123456", "recovery_code": "abcde-fghij"}, {"code": ""}],
)
async def test_verify_needs_exactly_one_second_factor(env: AuthEnv, proof: dict[str, str]) -> None:
    response = await verify(env, "anything", **proof)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"


async def test_disable_needs_exactly_one_second_factor(env: AuthEnv) -> None:
    _, codes = await enable_mfa(env)
    pair = (await verify(env, await mfa_token(env), recovery_code=codes[0])).json()
    headers = bearer(pair["access_token"])
    both = {"code": "123456", "recovery_code": codes[1], "password": PASSWORD}
    for body in ({}, {"password": PASSWORD}, both):
        response = await env.http.post(f"{AUTH}/mfa/disable", json=body, headers=headers)
        assert response.status_code == 422


async def test_mfa_endpoints_need_a_signed_in_user(env: AuthEnv) -> None:
    for path, body in (("/mfa/enroll", None), ("/mfa/confirm", {"code": "123456"})):
        response = await env.http.post(f"{AUTH}{path}", json=body)
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHORIZED"


async def test_confirm_before_enrol_and_with_a_wrong_code(env: AuthEnv) -> None:
    await env.active_user(EMAIL)
    access = (await env.tokens(EMAIL))["access_token"]
    early = await env.http.post(
        f"{AUTH}/mfa/confirm", json={"code": "123456"}, headers=bearer(access)
    )
    assert early.status_code == 409
    assert early.json()["code"] == "MFA_NOT_ENROLLED"
    secret = (await env.http.post(f"{AUTH}/mfa/enroll", headers=bearer(access))).json()["secret"]
    wrong = str((int(app_code(secret)) + 1) % 1_000_000).zfill(6)
    response = await env.http.post(
        f"{AUTH}/mfa/confirm", json={"code": wrong}, headers=bearer(access)
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_MFA_CODE"
    # Still off: login gives tokens at once.
    assert "access_token" in (await env.login(EMAIL)).json()


# -- the flow -----------------------------------------------------------------------------


async def test_enrol_confirm_then_login_needs_the_second_factor(env: AuthEnv) -> None:
    await env.active_user(EMAIL)
    access = (await env.tokens(EMAIL))["access_token"]
    enrolled = (await env.http.post(f"{AUTH}/mfa/enroll", headers=bearer(access))).json()
    assert enrolled["otpauth_uri"].startswith("otpauth://totp/Shop:ana%40example.com?secret=")
    assert pyotp.parse_uri(enrolled["otpauth_uri"]).secret == enrolled["secret"]
    confirmed = await env.http.post(
        f"{AUTH}/mfa/confirm", json={"code": app_code(enrolled["secret"])}, headers=bearer(access)
    )
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    me = await env.http.get(f"{AUTH}/me", headers=bearer(access))
    assert me.json()["mfa_enabled"] is True
    again = await env.http.post(f"{AUTH}/mfa/enroll", headers=bearer(access))
    assert again.status_code == 409

    token = await mfa_token(env)
    pair = await verify(env, token, code=app_code(enrolled["secret"], steps_ahead=1))
    assert pair.status_code == 200, pair.text
    signed_in = await env.http.get(f"{AUTH}/me", headers=bearer(pair.json()["access_token"]))
    assert signed_in.json()["email"] == EMAIL


async def test_a_totp_code_replayed_is_refused(env: AuthEnv) -> None:
    secret, _ = await enable_mfa(env)
    code = app_code(secret, steps_ahead=1)
    assert (await verify(env, await mfa_token(env), code=code)).status_code == 200
    replayed = await verify(env, await mfa_token(env), code=code)
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "INVALID_MFA_CODE"
    # The code of confirmation (an earlier step) is refused as well.
    assert (await verify(env, await mfa_token(env), code=app_code(secret))).status_code == 401


async def test_a_recovery_code_works_once(env: AuthEnv) -> None:
    _, codes = await enable_mfa(env)
    first = await verify(env, await mfa_token(env), recovery_code=codes[0].upper())
    assert first.status_code == 200
    again = await verify(env, await mfa_token(env), recovery_code=codes[0])
    assert again.status_code == 401
    assert again.json()["code"] == "INVALID_MFA_CODE"
    assert (await verify(env, await mfa_token(env), recovery_code=codes[1])).status_code == 200


async def test_an_mfa_token_is_not_an_access_token_and_the_reverse(env: AuthEnv) -> None:
    secret, _ = await enable_mfa(env)
    token = await mfa_token(env)
    me = await env.http.get(f"{AUTH}/me", headers=bearer(token))
    assert me.status_code == 401
    assert me.json()["code"] == "INVALID_TOKEN"
    pair = (await verify(env, token, code=app_code(secret, steps_ahead=1))).json()
    as_mfa = await verify(env, pair["access_token"], recovery_code="abcde-fghij")
    assert as_mfa.status_code == 401
    assert as_mfa.json()["code"] == "INVALID_TOKEN"


async def test_wrong_codes_lock_the_second_step(env: AuthEnv) -> None:
    _, codes = await enable_mfa(env)
    token = await mfa_token(env)
    for _ in range(2):
        assert (await verify(env, token, recovery_code="wrong-guess")).status_code == 401
    locked = await verify(env, token, recovery_code="wrong-guess")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert (await verify(env, token, recovery_code=codes[0])).status_code == 429


async def test_a_password_reset_does_not_bypass_mfa(env: AuthEnv) -> None:
    await enable_mfa(env)
    await env.http.post(f"{AUTH}/password-reset/request", json={"email": EMAIL})
    changed = await env.http.post(
        f"{AUTH}/password-reset/confirm",
        json={"token": env.last_token(), "password": "a brand new password"},
    )
    assert changed.status_code == 200
    await mfa_token(env, "a brand new password")  # asserts mfa_required, no tokens


async def test_disable_with_a_recovery_code_turns_mfa_off(env: AuthEnv) -> None:
    _, codes = await enable_mfa(env)
    pair = (await verify(env, await mfa_token(env), recovery_code=codes[0])).json()
    headers = bearer(pair["access_token"])  # a fresh sign-in: no password needed
    wrong = await env.http.post(
        f"{AUTH}/mfa/disable", json={"recovery_code": "aaaaa-bbbbb"}, headers=headers
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "INVALID_MFA_PROOF"
    off = await env.http.post(
        f"{AUTH}/mfa/disable", json={"recovery_code": codes[1]}, headers=headers
    )
    assert off.status_code == 204
    assert "access_token" in (await env.login(EMAIL)).json()
    # Now off: disabling again is a conflict.
    again = await env.http.post(
        f"{AUTH}/mfa/disable", json={"recovery_code": codes[2]}, headers=headers
    )
    assert again.status_code == 409


async def test_disable_refuses_a_code_already_used(env: AuthEnv) -> None:
    secret, _ = await enable_mfa(env)
    pair = (await verify(env, await mfa_token(env), code=app_code(secret, steps_ahead=1))).json()
    headers = bearer(pair["access_token"])
    used = await env.http.post(
        f"{AUTH}/mfa/disable", json={"code": app_code(secret, steps_ahead=1)}, headers=headers
    )
    assert used.status_code == 403  # that code was just used to sign in
    me = await env.http.get(f"{AUTH}/me", headers=headers)
    assert me.json()["mfa_enabled"] is True
