"""Signing in and out of the admin: the form, the throttle, MFA, and the session cookie."""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import quote

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update

from tempest.contrib.admin import UserModelAuthBackend, make_admin_router
from tempest.contrib.admin.sessions import SignedCookieSessionStore
from tempest.utils.totp import TOTPHelper
from tests.contrib.admin.conftest import (
    ADMIN,
    MFA_USER,
    PASSWORD,
    RETIRED,
    SECRET,
    STAFF,
    VICTIM,
    AdminClient,
    AdminEnv,
    csrf_of,
    main_site,
    operator,
)
from tests.contrib.admin.models import Operator

pytestmark = pytest.mark.anyio

REFUSED = "Wrong email or password, or this account may not use the admin."
COOKIE = "tempest_admin"


def set_cookie(response: Any) -> str:
    """The admin cookie's Set-Cookie header."""
    headers = [
        value for value in response.headers.get_list("set-cookie") if value.startswith(COOKIE)
    ]
    assert len(headers) == 1, response.headers
    return str(headers[0])


async def assert_signed_out(client: AdminClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=%2Fadmin%2F"


# -- the sign-in form ---------------------------------------------------------------------


async def test_the_login_page_gives_a_token_in_a_locked_down_cookie(anonymous: AdminClient) -> None:
    page = await anonymous.login_page()
    assert 'action="/admin/login"' in page.text and 'name="password"' in page.text
    header = set_cookie(page).lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/admin" in header
    assert "secure" not in header.replace("samesite", "")  # cookie_secure=False
    assert "max-age=28800" in header  # 8 hours
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    # The same visitor keeps the same token until signing in.
    again = await anonymous.get("/login")
    assert csrf_of(again.text) == anonymous.token


async def test_the_cookie_is_secure_by_default(new_client: Any) -> None:
    secure = new_client("/secure")
    page = await secure.get("/login")
    header = set_cookie(page).lower()
    assert "; secure" in header and "path=/secure" in header and "httponly" in header


async def test_a_signed_in_visitor_is_sent_on_from_the_login_page(admin: AdminClient) -> None:
    response = await admin.get("/login", params={"next": "/admin/m/admin_t_part/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/m/admin_t_part/"


async def test_an_admin_signs_in_and_the_session_gets_a_new_token(
    env: AdminEnv, anonymous: AdminClient
) -> None:
    before = (await anonymous.login_page()).text
    response = await anonymous.login(email="  Admin@Example.COM ")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/"
    assert "httponly" in set_cookie(response).lower()
    dashboard = await anonymous.get("/")
    assert dashboard.status_code == 200
    assert f'data-testid="who">{ADMIN}<' in dashboard.text
    assert csrf_of(dashboard.text) != csrf_of(before)  # no session fixation
    async with env.db.get_session_context() as session:
        user = await session.scalar(select(Operator).where(Operator.email == ADMIN))
        assert user is not None and user.last_login_at is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (ADMIN, "wrong password"),
        ("nobody@example.com", PASSWORD),
        (STAFF, PASSWORD),  # active, not an admin
        (RETIRED, PASSWORD),  # an admin, not active
        ("", ""),
    ],
    ids=["wrong-password", "unknown-email", "not-admin", "inactive-admin", "empty"],
)
async def test_sign_in_is_refused_with_one_generic_message(
    anonymous: AdminClient, email: str, password: str
) -> None:
    response = await anonymous.login(email, password)
    assert response.status_code == 400
    assert REFUSED in response.text
    assert f'value="{email}"' in response.text  # the email is kept
    assert 'name="password" type="password" autocomplete="current-password" required>' in (
        response.text
    )
    await assert_signed_out(anonymous)


async def test_the_sign_in_is_locked_after_five_failures(anonymous: AdminClient) -> None:
    for _ in range(5):
        refused = await anonymous.login(VICTIM, "wrong password")
        assert refused.status_code == 400
    locked = await anonymous.login(VICTIM, PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "Too many failed attempts: try again in 15 minute(s)." in locked.text
    await assert_signed_out(anonymous)
    # Others are not locked out.
    assert (await anonymous.login(ADMIN, PASSWORD)).status_code == 303


async def test_a_form_post_must_be_urlencoded(anonymous: AdminClient) -> None:
    await anonymous.login_page()
    response = await anonymous.http.post(
        "/admin/login", json={"username": ADMIN, "password": PASSWORD}
    )
    assert response.status_code == 415


# -- MFA ----------------------------------------------------------------------------------


async def test_mfa_needs_a_fresh_correct_code(env: AdminEnv, anonymous: AdminClient) -> None:
    totp = TOTPHelper(issuer="tests")
    response = await anonymous.login(MFA_USER, next="/admin/m/admin_t_part/")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/mfa?next=%2Fadmin%2Fm%2Fadmin_t_part%2F"
    # Between the password and the code, no page opens.
    blocked = await anonymous.get("/")
    assert blocked.status_code == 303 and blocked.headers["location"] == "/admin/mfa"
    form = await anonymous.get("/mfa", params={"next": "/admin/m/admin_t_part/"})
    assert form.status_code == 200 and 'name="code"' in form.text
    anonymous.token = csrf_of(form.text)

    code = totp.now(env.mfa_secret)
    wrong = f"{(int(code) + 500_000) % 1_000_000:06d}"
    refused = await anonymous.post("/mfa", {"code": wrong, "next": "/admin/m/admin_t_part/"})
    assert refused.status_code == 400
    assert "That code is wrong or was already used." in refused.text
    assert (await anonymous.get("/")).headers["location"] == "/admin/mfa"

    accepted = await anonymous.post("/mfa", {"code": code, "next": "/admin/m/admin_t_part/"})
    assert accepted.status_code == 303
    assert accepted.headers["location"] == "/admin/m/admin_t_part/"
    page = await anonymous.get("/")
    assert page.status_code == 200 and f">{MFA_USER}<" in page.text

    # The same code again, on a new sign-in: refused.
    anonymous.token = csrf_of(page.text)
    await anonymous.post("/logout", {})
    assert (await anonymous.login(MFA_USER)).status_code == 303
    anonymous.token = csrf_of((await anonymous.get("/mfa")).text)
    replayed = await anonymous.post("/mfa", {"code": code})
    assert replayed.status_code == 400
    assert "already used" in replayed.text


async def test_the_mfa_page_needs_a_pending_sign_in(
    admin: AdminClient, anonymous: AdminClient
) -> None:
    for client in (admin, anonymous):
        response = await client.get("/mfa")
        assert response.status_code == 303 and response.headers["location"] == "/admin/login"
    posted = await admin.post("/mfa", {"code": "123456"})  # signed in fully: nothing to verify
    assert posted.status_code == 303 and posted.headers["location"] == "/admin/login"


# -- logout and the cookie ---------------------------------------------------------------


async def test_logout_forgets_the_session(admin: AdminClient) -> None:
    response = await admin.post("/logout", {})
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"
    cleared = set_cookie(response).lower()
    assert 'tempest_admin=""' in cleared and "max-age=0" in cleared
    await assert_signed_out(admin)


async def test_a_tampered_cookie_sends_to_login(admin: AdminClient, new_client: Any) -> None:
    value = admin.http.cookies[COOKIE]
    fresh = new_client()
    good = await fresh.http.get("/admin/", headers={"Cookie": f"{COOKIE}={value}"})
    assert good.status_code == 200  # the cookie alone is the session
    for forged in (value[:-2] + ("AA" if not value.endswith("AA") else "BB"), "x" + value, "junk"):
        response = await fresh.http.get("/admin/", headers={"Cookie": f"{COOKIE}={forged}"})
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login?next=%2Fadmin%2F"


async def test_an_expired_cookie_sends_to_login(env: AdminEnv, anonymous: AdminClient) -> None:
    admin_id = str(env.operators[ADMIN].id)

    class NineHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600

    def cookie(signer: type[TimestampSigner]) -> str:
        serializer = URLSafeTimedSerializer(
            SECRET,
            salt="tempest.contrib.admin.session",
            signer=signer,
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        return str(
            serializer.dumps({"p": admin_id, "c": "token", "m": False, "v": 0, "s": "session"})
        )

    fresh = await anonymous.http.get(
        "/admin/", headers={"Cookie": f"{COOKIE}={cookie(TimestampSigner)}"}
    )
    assert fresh.status_code == 200  # the forging is right: a current one is accepted
    old = await anonymous.http.get(
        "/admin/m/admin_t_part/?q=x", headers={"Cookie": f"{COOKIE}={cookie(NineHoursAgo)}"}
    )
    assert old.status_code == 303
    assert old.headers["location"] == "/admin/login?next=" + quote("/admin/m/admin_t_part/?q=x", "")
    assert 'tempest_admin=""' in set_cookie(old)


async def test_the_session_ends_when_the_user_loses_admin_rights(
    env: AdminEnv, new_client: Any
) -> None:
    async with env.db.get_session_context() as session:
        session.add(operator("temp@example.com"))
    client = new_client()
    assert (await client.login("temp@example.com")).status_code == 303
    assert (await client.get("/")).status_code == 200
    async with env.db.get_session_context() as session:
        await session.execute(
            update(Operator).where(Operator.email == "temp@example.com").values(is_admin=False)
        )
    await assert_signed_out(client)


# -- where a sign-in leads --------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "/admin/\\\\evil.example",
        "//evil.example/admin/",
        "/elsewhere",
        "javascript:alert(1)",
        "/admin/\nSet-Cookie: x=1",
    ],
)
async def test_next_never_leaves_the_admin(anonymous: AdminClient, target: str) -> None:
    page = await anonymous.get("/login", params={"next": target})
    assert 'name="next" value="/admin/"' in page.text
    response = await anonymous.login(next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/"


async def test_next_inside_the_admin_is_followed(anonymous: AdminClient) -> None:
    target = "/admin/m/admin_t_part/?q=cotton&sort=qty"
    page = await anonymous.get("/login", params={"next": target})
    assert 'name="next" value="/admin/m/admin_t_part/?q=cotton&amp;sort=qty"' in page.text
    response = await anonymous.login(next=target)
    assert response.headers["location"] == target


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/m/admin_t_part/",
        "/m/admin_t_part/export.csv",
        "/m/admin_t_gadget/new",
        "/m/admin_t_maker/autocomplete?q=a",
        "/m/admin_t_gadget/00000000-0000-4000-8000-000000000000",
        "/m/admin_t_gadget/00000000-0000-4000-8000-000000000000/edit",
    ],
)
async def test_every_page_needs_a_sign_in(anonymous: AdminClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?next=" + quote("/admin" + path, "")


def test_the_secret_key_needs_32_bytes() -> None:
    backend = UserModelAuthBackend(Operator)
    with pytest.raises(ValueError, match="at least 32 bytes \\(got 31\\)"):
        make_admin_router(main_site(), secret_key="k" * 31, auth_backend=backend)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        SignedCookieSessionStore("é" * 15)  # 30 bytes
    assert make_admin_router(main_site(), secret_key="k" * 32, auth_backend=backend).routes
    with pytest.raises(ValueError, match="same_site"):
        SignedCookieSessionStore(SECRET, same_site="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="export_max_rows"):
        make_admin_router(main_site(), secret_key=SECRET, export_max_rows=0)
