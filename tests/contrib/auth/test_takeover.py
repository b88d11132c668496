"""Account takeover with a stolen access token: MFA enrolment and disabling, password
change and email change need a recent sign-in or the password (and, to disable MFA, a
second-factor code), and a wrong password counts against the login throttle."""

from __future__ import annotations

import asyncio
from typing import Any

import pyotp
import pytest

from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build
from tests.mail.test_sender import parts

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
EMAIL = "ana@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stale_token(env: AuthEnv, email: str = EMAIL) -> str:
    """An access token that is not a fresh sign-in: one obtained by refreshing.

    A thief who keeps a session alive with a stolen refresh token has exactly this.
    """
    pair = await env.tokens(email)
    refreshed = await env.http.post(
        f"{AUTH}/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    token: str = refreshed.json()["access_token"]
    return token


def assert_reauth_required(response: Any) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "REAUTHENTICATION_REQUIRED"


async def turn_mfa_on(env: AuthEnv, email: str = EMAIL) -> list[str]:
    """Enrol and confirm MFA with a fresh sign-in; return the recovery codes."""
    fresh = bearer((await env.tokens(email))["access_token"])
    enrolled = await env.http.post(f"{AUTH}/mfa/enroll", headers=fresh)
    assert enrolled.status_code == 200, enrolled.text
    totp = pyotp.TOTP(enrolled.json()["secret"])
    confirmed = await env.http.post(f"{AUTH}/mfa/confirm", json={"code": totp.now()}, headers=fresh)
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return codes


async def test_a_bearer_token_alone_cannot_enroll_mfa(env: AuthEnv) -> None:
    await env.active_user(EMAIL)
    stolen = bearer(await stale_token(env))
    assert_reauth_required(await env.http.post(f"{AUTH}/mfa/enroll", headers=stolen))
    assert_reauth_required(await env.http.post(f"{AUTH}/mfa/enroll", json={}, headers=stolen))
    wrong = await env.http.post(
        f"{AUTH}/mfa/enroll", json={"password": "not my password"}, headers=stolen
    )
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["code"] == "WRONG_PASSWORD"
    right = await env.http.post(f"{AUTH}/mfa/enroll", json={"password": PASSWORD}, headers=stolen)
    assert right.status_code == 200, right.text


async def test_a_fresh_sign_in_counts_only_for_auth_reauth_seconds(build: Build) -> None:
    # auth_time is in whole seconds: a window of 3 s leaves room for a slow machine.
    env = await build(AUTH_REAUTH_SECONDS=3)
    await env.active_user(EMAIL)
    fresh = bearer((await env.tokens(EMAIL))["access_token"])
    assert (await env.http.post(f"{AUTH}/mfa/enroll", headers=fresh)).status_code == 200
    await asyncio.sleep(4.1)  # the access token is still valid; the sign-in is no longer fresh
    assert (await env.http.get(f"{AUTH}/me", headers=fresh)).status_code == 200
    assert_reauth_required(await env.http.post(f"{AUTH}/mfa/enroll", headers=fresh))


async def test_disabling_mfa_needs_the_password_and_a_code(env: AuthEnv) -> None:
    await env.active_user(EMAIL)
    codes = await turn_mfa_on(env)
    # A stale token (a refreshed session), as a thief who kept the session alive has it.
    login = await env.login(EMAIL)
    verified = await env.http.post(
        f"{AUTH}/mfa/verify",
        json={"mfa_token": login.json()["mfa_token"], "recovery_code": codes[0]},
    )
    assert verified.status_code == 200, verified.text
    refreshed = await env.http.post(
        f"{AUTH}/refresh", json={"refresh_token": verified.json()["refresh_token"]}
    )
    stolen = bearer(refreshed.json()["access_token"])
    # A second-factor code alone is not enough on a stale token: the password is needed.
    assert_reauth_required(
        await env.http.post(f"{AUTH}/mfa/disable", json={"recovery_code": codes[1]}, headers=stolen)
    )
    # The password alone is not enough either: a code (or recovery code) is required.
    password_only = await env.http.post(
        f"{AUTH}/mfa/disable", json={"password": PASSWORD}, headers=stolen
    )
    assert password_only.status_code == 422, password_only.text
    wrong_code = await env.http.post(
        f"{AUTH}/mfa/disable", json={"password": PASSWORD, "code": "000000"}, headers=stolen
    )
    assert wrong_code.status_code == 403, wrong_code.text
    assert wrong_code.json()["code"] == "INVALID_MFA_PROOF"
    both = await env.http.post(
        f"{AUTH}/mfa/disable",
        json={"password": PASSWORD, "recovery_code": codes[1]},
        headers=stolen,
    )
    assert both.status_code == 204, both.text
    assert (await env.http.get(f"{AUTH}/me", headers=stolen)).json()["mfa_enabled"] is False


async def test_password_change_needs_the_current_password_and_ends_other_sessions(
    env: AuthEnv,
) -> None:
    await env.active_user(EMAIL)
    other_session = await env.tokens(EMAIL)
    stolen = bearer(await stale_token(env))
    new = "a brand new password"
    assert_reauth_required(
        await env.http.post(f"{AUTH}/password/change", json={"new_password": new}, headers=stolen)
    )
    weak = await env.http.post(
        f"{AUTH}/password/change",
        json={"current_password": PASSWORD, "new_password": "1234567"},
        headers=stolen,
    )
    assert weak.status_code == 422, weak.text
    assert len(weak.json()["details"]["errors"]) == 3
    changed = await env.http.post(
        f"{AUTH}/password/change",
        json={"current_password": PASSWORD, "new_password": new},
        headers=stolen,
    )
    assert changed.status_code == 200, changed.text
    pair = changed.json()
    assert set(pair) >= {"access_token", "refresh_token"}
    # The other session is over; the caller keeps working with the new pair.
    ended = await env.http.post(
        f"{AUTH}/refresh", json={"refresh_token": other_session["refresh_token"]}
    )
    assert ended.status_code == 401
    kept = await env.http.post(f"{AUTH}/refresh", json={"refresh_token": pair["refresh_token"]})
    assert kept.status_code == 200, kept.text
    assert (await env.login(EMAIL, PASSWORD)).status_code == 401
    assert (await env.login(EMAIL, new)).status_code == 200


async def test_a_wrong_current_password_counts_against_the_login_throttle(env: AuthEnv) -> None:
    await env.active_user(EMAIL)  # env: AUTH_MAX_LOGIN_ATTEMPTS=3
    stolen = bearer(await stale_token(env))
    statuses = []
    for _ in range(3):
        response = await env.http.post(
            f"{AUTH}/password/change",
            json={"current_password": "guess guess guess", "new_password": "x-new-pass-1"},
            headers=stolen,
        )
        statuses.append((response.status_code, response.json()["code"]))
    assert statuses == [
        (403, "WRONG_PASSWORD"),
        (403, "WRONG_PASSWORD"),
        (429, "TOO_MANY_REQUESTS"),
    ]
    # The email is locked for logins too, even with the right password.
    assert (await env.login(EMAIL)).status_code == 429
    assert (
        await env.http.post(
            f"{AUTH}/password/change",
            json={"current_password": PASSWORD, "new_password": "x-new-pass-1"},
            headers=stolen,
        )
    ).status_code == 429


async def test_email_change_needs_reauth_and_the_new_address_confirms(env: AuthEnv) -> None:
    await env.active_user(EMAIL)
    stolen = bearer(await stale_token(env))
    assert_reauth_required(
        await env.http.post(
            f"{AUTH}/email/change", json={"new_email": "thief@example.com"}, headers=stolen
        )
    )
    before = len(env.smtp.messages)
    asked = await env.http.post(
        f"{AUTH}/email/change",
        json={"new_email": "Ana.New@example.com", "password": PASSWORD},
        headers=stolen,
    )
    assert asked.status_code == 202, asked.text
    sent = env.smtp.messages[before:]
    assert sorted(message.rcpt_tos[0] for message in sent) == [
        "ana.new@example.com",
        EMAIL,
    ]
    (notice,) = [m for m in sent if m.rcpt_tos == [EMAIL]]
    assert "ana.new@example.com" in parts(notice.message)[0]
    confirm = next(m for m in sent if m.rcpt_tos == ["ana.new@example.com"])
    env.smtp.messages.append(confirm)  # last_token reads the last message
    token = env.last_token()
    # Nothing changed until the link is followed.
    assert (await env.login(EMAIL)).status_code == 200
    page = await env.http.get(f"{AUTH}/email/confirm", params={"token": token})
    assert page.status_code == 200, page.text
    assert (await env.login("ana.new@example.com")).status_code == 200
    assert (await env.login(EMAIL)).status_code == 401
    again = await env.http.post(f"{AUTH}/email/confirm", json={"token": token})
    assert again.status_code == 401
    assert again.json()["code"] == "INVALID_TOKEN"


async def test_concurrent_password_guesses_are_throttled_before_they_are_checked(
    env: AuthEnv,
) -> None:
    await env.active_user(EMAIL)  # env: AUTH_MAX_LOGIN_ATTEMPTS=3
    stolen = bearer(await stale_token(env))
    guesses = [
        env.http.post(
            f"{AUTH}/email/change",
            json={"new_email": "thief@example.com", "password": f"guess number {n}"},
            headers=stolen,
        )
        for n in range(20)
    ]
    codes = sorted(response.json()["code"] for response in await asyncio.gather(*guesses))
    # At most AUTH_MAX_LOGIN_ATTEMPTS guesses reach bcrypt; the rest are refused unchecked.
    assert codes.count("WRONG_PASSWORD") <= 3
    assert codes.count("TOO_MANY_REQUESTS") >= 17
    assert set(codes) == {"WRONG_PASSWORD", "TOO_MANY_REQUESTS"}
