"""Sessions that end: a password reset or change, deactivation and "sign out everywhere"
end the user's access tokens, refresh tokens and admin cookies at once, not when they
expire (issue 13). Real database (SQLite and PostgreSQL), real bcrypt, real SMTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from tempest.contrib.auth.users import get_user_model
from tempest.db import atomic, get_database
from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build, Run

pytestmark = pytest.mark.anyio

AUTH = "/api/auth"
ADMIN_COOKIE = "tempest_admin"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me_status(env: AuthEnv, access_token: str) -> int:
    return (await env.http.get(f"{AUTH}/me", headers=bearer(access_token))).status_code


async def refresh_status(env: AuthEnv, refresh_token: str) -> int:
    response = await env.http.post(f"{AUTH}/refresh", json={"refresh_token": refresh_token})
    return response.status_code


async def make_admin(email: str) -> None:
    user_model = get_user_model()
    async with get_database().request_session() as session, atomic(session):
        await session.execute(
            update(user_model).where(user_model.email == email).values(is_admin=True)
        )


async def admin_cookie(env: AuthEnv, email: str, password: str = PASSWORD) -> str:
    """Sign in to the admin through its form; the session cookie's value."""
    page = await env.http.get("/admin/login")
    found = _TOKEN.search(page.text)
    assert found is not None, page.text
    response = await env.http.post(
        "/admin/login",
        data={"username": email, "password": password, "csrf_token": found.group(1)},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/"
    cookie = env.http.cookies[ADMIN_COOKIE]
    env.http.cookies.clear()
    return str(cookie)


async def admin_status(env: AuthEnv, cookie: str) -> int:
    response = await env.http.get("/admin/", headers={"Cookie": f"{ADMIN_COOKIE}={cookie}"})
    if response.status_code == 303:
        assert response.headers["location"].startswith("/admin/login")
    return response.status_code


@pytest.fixture
async def with_admin(build: Build) -> AuthEnv:
    """The auth API and the admin in one project, the admin's cookie usable over HTTP."""
    return await build(
        INSTALLED_APPS=["tempest.contrib.auth", "tempest.contrib.admin"],
        ADMIN_COOKIE_SECURE=False,
    )


async def test_a_password_reset_ends_the_admin_cookie_and_the_access_token(
    with_admin: AuthEnv,
) -> None:
    env = with_admin
    await env.active_user("ana@example.com")
    await make_admin("ana@example.com")
    pair = await env.tokens("ana@example.com")
    cookie = await admin_cookie(env, "ana@example.com")
    assert await admin_status(env, cookie) == 200
    assert await me_status(env, pair["access_token"]) == 200

    await env.http.post(f"{AUTH}/password-reset/request", json={"email": "ana@example.com"})
    changed = await env.http.post(
        f"{AUTH}/password-reset/confirm",
        json={"token": env.last_token(), "password": "a brand new password"},
    )
    assert changed.status_code == 200, changed.text

    assert await admin_status(env, cookie) == 303  # replayed: sent to sign in
    assert await me_status(env, pair["access_token"]) == 401
    assert await refresh_status(env, pair["refresh_token"]) == 401
    # The new password opens new sessions.
    new_cookie = await admin_cookie(env, "ana@example.com", "a brand new password")
    assert await admin_status(env, new_cookie) == 200
    assert (
        await me_status(
            env, (await env.tokens("ana@example.com", "a brand new password"))["access_token"]
        )
        == 200
    )


async def test_sign_out_everywhere_ends_access_refresh_and_admin_sessions(
    with_admin: AuthEnv,
) -> None:
    env = with_admin
    await env.active_user("ana@example.com")
    await env.active_user("bob@example.com")
    await make_admin("ana@example.com")
    laptop, phone = await env.tokens("ana@example.com"), await env.tokens("ana@example.com")
    bob = await env.tokens("bob@example.com")
    cookie = await admin_cookie(env, "ana@example.com")

    anonymous = await env.http.post(f"{AUTH}/logout/all")
    assert anonymous.status_code == 401
    response = await env.http.post(f"{AUTH}/logout/all", headers=bearer(laptop["access_token"]))
    assert response.status_code == 204, response.text

    for pair in (laptop, phone):
        assert await me_status(env, pair["access_token"]) == 401
        assert await refresh_status(env, pair["refresh_token"]) == 401
    assert await admin_status(env, cookie) == 303
    # Another user is untouched, and Ana can sign in again.
    assert await me_status(env, bob["access_token"]) == 200
    assert await refresh_status(env, bob["refresh_token"]) == 200
    assert await me_status(env, (await env.tokens("ana@example.com"))["access_token"]) == 200


async def test_a_version_bump_ends_refresh_tokens_that_were_not_revoked(env: AuthEnv) -> None:
    """A path that only bumps the version (a command, the admin) ends refresh tokens too."""
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    user_model = get_user_model()
    async with get_database().request_session() as session, atomic(session):
        user = await session.scalar(select(user_model).where(user_model.email == "ana@example.com"))
        assert user is not None
        user.end_sessions()
    assert await refresh_status(env, pair["refresh_token"]) == 401
    assert await me_status(env, pair["access_token"]) == 401


async def test_deactivating_then_reactivating_does_not_revive_old_sessions(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    user_model = get_user_model()
    for active in (False, True):
        async with get_database().request_session() as session, atomic(session):
            user = await session.scalar(
                select(user_model).where(user_model.email == "ana@example.com")
            )
            assert user is not None
            user.is_active = active
        if not active:
            assert await me_status(env, pair["access_token"]) == 401
    assert await me_status(env, pair["access_token"]) == 401
    assert await refresh_status(env, pair["refresh_token"]) == 401


async def test_the_version_claim_is_required_and_checked(env: AuthEnv) -> None:
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    tokens = env.service.tokens
    claims = tokens.decode(pair["access_token"])
    assert isinstance(claims["sv"], int)
    # Signed with the real key, so only the claim is wrong: missing, stale, or not a number.
    for forged in (
        {"sub": claims["sub"]},
        {"sub": claims["sub"], "sv": claims["sv"] + 1},
        {"sub": claims["sub"], "sv": str(claims["sv"])},
        {"sub": claims["sub"], "sv": True},
    ):
        token = tokens.encode(forged, token_type="access")
        response = await env.http.get(f"{AUTH}/me", headers=bearer(token))
        assert response.status_code == 401, forged
        assert response.json()["code"] == "INVALID_TOKEN"
    good = tokens.encode({"sub": claims["sub"], "sv": claims["sv"]}, token_type="access")
    assert await me_status(env, good) == 200


async def test_the_check_can_be_turned_off(build: Build) -> None:
    """AUTH_REVOKE_ACCESS_TOKENS=false: access tokens live out their lifetime."""
    env = await build(AUTH_REVOKE_ACCESS_TOKENS=False)
    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    response = await env.http.post(f"{AUTH}/logout/all", headers=bearer(pair["access_token"]))
    assert response.status_code == 204
    assert await me_status(env, pair["access_token"]) == 200
    assert await refresh_status(env, pair["refresh_token"]) == 401


# -- the management commands, as a user runs them ---------------------------------------

LOGIN = (
    "from tempest.contrib.auth.service import UserAuthService\n"
    "async with database.request_session() as s:\n"
    "    pair = await UserAuthService().login(s, 'ana@example.com', 'first-password')\n"
    "print(pair.access_token)"
)
ME = (
    "import httpx\n"
    "from tempest.core.asgi import get_asgi_application\n"
    "transport = httpx.ASGITransport(app=get_asgi_application())\n"
    "async with httpx.AsyncClient(transport=transport, base_url='http://localhost') as c:\n"
    "    r = await c.get('/api/auth/me', headers={'Authorization': 'Bearer ' + TOKEN})\n"
    "print(r.status_code)"
)


@pytest.mark.e2e
def test_changepassword_ends_access_tokens(project: Run) -> None:
    from tests.db.test_migration_commands import ok

    run = project
    ok(run("user", "create", "--email", "ana@example.com", "--password", "first-password"))
    token = ok(run("shell", "-c", LOGIN)).strip().splitlines()[-1]
    me = ME.replace("TOKEN", repr(token))
    assert ok(run("shell", "-c", me)).strip().splitlines()[-1] == "200"
    ok(run("changepassword", "ana@example.com", input="new-password-2\nnew-password-2\n"))
    assert ok(run("shell", "-c", me)).strip().splitlines()[-1] == "401"

    login = LOGIN.replace("first-password", "new-password-2")
    token = ok(run("shell", "-c", login)).strip().splitlines()[-1]
    me = ME.replace("TOKEN", repr(token))
    assert ok(run("shell", "-c", me)).strip().splitlines()[-1] == "200"
    assert ok(run("user", "deactivate", "--email", "ANA@example.com")) == (
        "ana@example.com is deactivated.\n"
    )
    assert (
        ok(run("user", "activate", "--email", "ana@example.com")) == "ana@example.com is active.\n"
    )
    assert ok(run("shell", "-c", me)).strip().splitlines()[-1] == "401"  # not revived


def test_the_model_methods_bump_the_version() -> None:
    """Every way the model sets a password or deactivates bumps ``session_version``."""
    from tempest.contrib.auth.base import _password_utils
    from tests.contrib.admin.models import Operator

    user = Operator(email="ana@example.com", is_active=True, session_version=0)
    steps: list[Callable[[], Any]] = [
        lambda: user.set_password_hash(_password_utils(4).hash("first-password")),
        user.set_unusable_password,
        user.end_sessions,
    ]
    for number, step in enumerate(steps, start=1):
        step()
        assert user.session_version == number
    user.is_active = False
    assert user.session_version == 4
    user.is_active = False  # already inactive: nothing to end
    user.is_active = True
    assert user.session_version == 4
    user.is_admin = True
    user.is_admin = False  # losing admin rights: re-granting them must not revive sessions
    assert user.session_version == 5


async def user_id(email: str) -> Any:
    user_model = get_user_model()
    async with get_database().request_session() as session:
        return await session.scalar(select(user_model.id).where(user_model.email == email))


async def test_the_admin_deactivate_action_ends_sessions_for_good(with_admin: AuthEnv) -> None:
    env = with_admin
    for email in ("ana@example.com", "bob@example.com"):
        await env.active_user(email)
        await make_admin(email)
    bob = await env.tokens("bob@example.com")
    bob_cookie = await admin_cookie(env, "bob@example.com")
    ana_cookie = await admin_cookie(env, "ana@example.com")
    users = "/admin/m/auth_user/"
    for action in ("deactivate", "activate"):  # and back: the old sessions stay ended
        cookie = {"Cookie": f"{ADMIN_COOKIE}={ana_cookie}"}
        page = await env.http.get(users, headers=cookie)
        found = _TOKEN.search(page.text)
        assert page.status_code == 200 and found is not None, page.text
        form = {"action": action, "ids": str(await user_id("bob@example.com"))}
        done = await env.http.post(
            f"{users}bulk", data=form | {"csrf_token": found.group(1)}, headers=cookie
        )
        assert done.status_code == 303, done.text
    assert await admin_status(env, bob_cookie) == 303
    assert await me_status(env, bob["access_token"]) == 401
    assert await refresh_status(env, bob["refresh_token"]) == 401
    assert await admin_status(env, ana_cookie) == 200
    assert await me_status(env, (await env.tokens("bob@example.com"))["access_token"]) == 200


async def test_a_repository_soft_delete_ends_sessions_for_good(env: AuthEnv) -> None:
    from tempest.db import BaseRepository

    await env.active_user("ana@example.com")
    pair = await env.tokens("ana@example.com")
    ana = await user_id("ana@example.com")
    async with get_database().request_session() as session, atomic(session):
        repository = BaseRepository(session, model=get_user_model())
        await repository.soft_delete(ana)
        await repository.restore(ana)
    assert await me_status(env, pair["access_token"]) == 401
    assert await refresh_status(env, pair["refresh_token"]) == 401
