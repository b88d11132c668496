"""CSRFMiddleware and make_csrf_token_dependency on small in-process apps, and the admin.

The browser is an httpx client with its cookie jar; a request "from the page" sends the
CSRF cookie's value back in the header, as the page's script would.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tempest import (
    CSRFMiddleware as TopCSRFMiddleware,
    make_csrf_token_dependency as top_dependency,
)
from tempest.api import CSRFMiddleware, make_csrf_token_dependency, register_exception_handlers
from tempest.api.cookies import set_cookie
from tempest.api.middleware.csrf import CSRFTokens
from tempest.conf import Settings
from tempest.contrib.admin import AdminSite, make_admin_router
from tempest.contrib.admin.backends import AdminAuthBackend, AdminAuthError
from tempest.db import AsyncDatabaseManager

pytestmark = pytest.mark.anyio

SECRET = "csrf-test-secret-" + "k" * 40
HEADER = "X-CSRF-Token"


def build(**options: Any) -> FastAPI:
    """An API whose session cookie is ``session``, behind the CSRF middleware."""
    options.setdefault("session_cookie", "session")
    options.setdefault("cookie_secure", False)
    options.setdefault("exempt_paths", ("/webhooks",))
    app = FastAPI()
    register_exception_handlers(app)
    app.add_middleware(CSRFMiddleware, secret_key=SECRET, **options)
    tokens = CSRFTokens(
        SECRET, session_cookie=options["session_cookie"], cookie_secure=options["cookie_secure"]
    )
    csrf_token = make_csrf_token_dependency(tokens, verify=False)

    @app.post("/login")
    async def login(response: Response) -> dict[str, bool]:
        set_cookie(response, "session", secrets.token_urlsafe(16), secure=False)
        return {"ok": True}

    @app.get("/csrf")
    async def get_csrf(token: str = Depends(csrf_token)) -> dict[str, str]:
        return {"csrf_token": token}

    @app.api_route("/api/items", methods=["GET", "HEAD", "OPTIONS", "TRACE", "POST", "DELETE"])
    async def items(request: Request) -> dict[str, str]:
        return {"method": request.method}

    @app.post("/webhooks/stripe")
    async def webhook() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/webhooksx")
    async def not_a_webhook() -> dict[str, bool]:
        return {"ok": True}

    return app


def client(app: FastAPI, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@asynccontextmanager
async def signed_in(
    app: FastAPI, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that signed in: it holds the session cookie and a CSRF cookie for it."""
    async with client(app, base_url) as browser:
        response = await browser.post("/login")
        assert response.status_code == 200, response.text
        assert browser.cookies.get("csrftoken")
        yield browser


def plant(browser: httpx.AsyncClient, value: str) -> None:
    """Replace the browser's CSRF cookie by ``value`` (as a script of the page could)."""
    domains = {cookie.domain for cookie in browser.cookies.jar if cookie.name == "csrftoken"}
    browser.cookies.delete("csrftoken")
    for domain in domains or {""}:
        browser.cookies.set("csrftoken", value, domain=domain)


def token_of(browser: httpx.AsyncClient) -> str:
    token = browser.cookies.get("csrftoken")
    assert token is not None
    return token


def refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["code"] == "CSRF_FAILED"
    assert body["details"] == {"reason": reason}
    assert body["detail"].startswith("CSRF verification failed.")


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(build()) as signed:
        yield signed


# Bad input first.


async def test_forged_cookie_is_refused(browser: httpx.AsyncClient) -> None:
    genuine = token_of(browser)
    forged = genuine[:25] + ("A" if genuine[25] != "A" else "B") + genuine[26:]
    for value in (forged, "x" * 68, "not-a-token", genuine[:24] + "." + "A" * 43):
        plant(browser, value)
        response = await browser.post("/api/items", headers={HEADER: value})
        refused(response, "bad_cookie")


async def test_token_of_another_session_is_refused() -> None:
    app = build()
    async with signed_in(app) as alice, signed_in(app) as mallory:
        stolen = token_of(mallory)  # valid, but for mallory's session
        plant(alice, stolen)
        refused(await alice.post("/api/items", headers={HEADER: stolen}), "bad_cookie")
        # Each session's own token works.
        assert (await mallory.post("/api/items", headers={HEADER: stolen})).status_code == 200


async def test_missing_header_is_refused(browser: httpx.AsyncClient) -> None:
    refused(await browser.post("/api/items"), "missing_token")
    refused(await browser.delete("/api/items"), "missing_token")


async def test_header_without_cookie_is_refused(browser: httpx.AsyncClient) -> None:
    token = token_of(browser)
    browser.cookies.delete("csrftoken")
    refused(await browser.post("/api/items", headers={HEADER: token}), "missing_cookie")


async def test_header_that_differs_from_the_cookie_is_refused() -> None:
    app = build()
    async with signed_in(app) as browser:
        other = CSRFTokens(SECRET, session_cookie="session").issue(browser.cookies.get("session"))
        # Valid for this session, but not the value of the cookie: a double submit needs both.
        refused(await browser.post("/api/items", headers={HEADER: other}), "token_mismatch")


async def test_a_form_field_is_not_a_header(browser: httpx.AsyncClient) -> None:
    response = await browser.post("/api/items", data={"csrf_token": token_of(browser)})
    refused(response, "missing_token")


@pytest.mark.parametrize(
    "value", ["é".encode("latin-1"), "\u00ff".encode("latin-1") * 68, b"A" * 100_000, b"\x7f"]
)
async def test_non_ascii_and_huge_headers_are_refused(
    browser: httpx.AsyncClient, value: bytes
) -> None:
    refused(await browser.post("/api/items", headers={HEADER.encode(): value}), "token_mismatch")


async def test_cross_site_origin_is_refused_even_with_a_valid_token(
    browser: httpx.AsyncClient,
) -> None:
    token = token_of(browser)
    for origin in ("https://evil.example", "null", "http://testserver.evil.example"):
        response = await browser.post("/api/items", headers={HEADER: token, "Origin": origin})
        refused(response, "bad_origin")
    same = await browser.post("/api/items", headers={HEADER: token, "Origin": "http://testserver"})
    assert same.status_code == 200


async def test_https_needs_a_same_site_or_trusted_referer() -> None:
    app = build(trusted_origins=["https://app.example.com"])
    async with signed_in(app, "https://testserver") as browser:
        token = token_of(browser)
        refused(await browser.post("/api/items", headers={HEADER: token}), "bad_origin")
        for referer in ("https://evil.example/page", "http://testserver/page", "https://[::1"):
            response = await browser.post("/api/items", headers={HEADER: token, "Referer": referer})
            refused(response, "bad_origin")
        for referer in ("https://testserver/page", "https://app.example.com/x"):
            response = await browser.post("/api/items", headers={HEADER: token, "Referer": referer})
            assert response.status_code == 200, (referer, response.text)
        trusted = await browser.post(
            "/api/items", headers={HEADER: token, "Origin": "https://app.example.com"}
        )
        assert trusted.status_code == 200


def test_configuration_errors_name_the_fix() -> None:
    app = FastAPI()
    with pytest.raises(
        ValueError, match=r"SECRET_KEY of at least 32 bytes.*secrets\.token_urlsafe"
    ):
        CSRFMiddleware(app, "short")
    with pytest.raises(ValueError, match=r"CSRF_TRUSTED_ORIGINS.*scheme://host"):
        CSRFMiddleware(app, SECRET, trusted_origins=["app.example.com"])
    with pytest.raises(ValueError, match="Invalid cookie name"):
        CSRFMiddleware(app, SECRET, cookie_name="csrf token")
    with pytest.raises(ValueError, match="Invalid same_site"):
        CSRFMiddleware(app, SECRET, cookie_samesite="sometimes")


# What passes.


async def test_the_token_passes_on_unsafe_methods(browser: httpx.AsyncClient) -> None:
    token = token_of(browser)
    for method in ("POST", "DELETE"):
        response = await browser.request(method, "/api/items", headers={HEADER: token})
        assert response.status_code == 200, response.text
        assert "set-cookie" not in response.headers  # the cookie is current: not re-sent


async def test_safe_methods_pass_without_a_token(browser: httpx.AsyncClient) -> None:
    for method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        response = await browser.request(method, "/api/items")
        assert response.status_code == 200, (method, response.text)


async def test_exempt_paths_pass_and_only_below_a_segment(browser: httpx.AsyncClient) -> None:
    assert (await browser.post("/webhooks/stripe")).status_code == 200
    refused(await browser.post("/webhooksx"), "missing_token")


async def test_requests_without_the_session_cookie_need_no_token() -> None:
    async with client(build()) as bearer_client:
        response = await bearer_client.post(
            "/api/items", headers={"Authorization": "Bearer abc", "Cookie": "theme=dark"}
        )
        assert response.status_code == 200
        assert "set-cookie" not in response.headers


async def test_without_a_session_cookie_setting_every_unsafe_request_is_checked() -> None:
    app = build(session_cookie=None)
    async with client(app) as browser:
        refused(await browser.post("/api/items"), "missing_cookie")
        first = await browser.get("/api/items")  # any answer hands out a cookie
        token = first.cookies["csrftoken"]
        assert (await browser.post("/api/items", headers={HEADER: token})).status_code == 200


async def test_sign_in_rotates_the_token() -> None:
    app = build()
    async with signed_in(app) as browser:
        before = token_of(browser)
        again = await browser.post("/login", headers={HEADER: before})  # a new session cookie
        assert again.status_code == 200
        after = token_of(browser)
        assert after != before
        plant(browser, before)
        refused(await browser.post("/api/items", headers={HEADER: before}), "bad_cookie")
        plant(browser, after)
        assert (await browser.post("/api/items", headers={HEADER: after})).status_code == 200


async def test_a_stale_cookie_is_replaced_on_a_safe_request(browser: httpx.AsyncClient) -> None:
    plant(browser, "stale")
    response = await browser.get("/api/items")
    fresh = response.cookies["csrftoken"]
    assert fresh != "stale"
    assert (await browser.post("/api/items", headers={HEADER: fresh})).status_code == 200


async def test_the_csrf_cookie_is_readable_by_the_page_and_lax() -> None:
    app = build(cookie_secure=True)
    async with client(app, "https://testserver") as browser:
        response = await browser.post("/login")
        (cookie,) = [v for v in response.headers.get_list("set-cookie") if "csrftoken" in v]
        parts = [part.strip() for part in cookie.split(";")]
        assert "HttpOnly" not in parts
        assert {"Secure", "SameSite=lax", "Path=/"} <= set(parts)


# The dependency.


async def test_dependency_hands_out_the_current_token(browser: httpx.AsyncClient) -> None:
    token = token_of(browser)
    response = await browser.get("/csrf")
    assert response.json() == {"csrf_token": token}
    assert "set-cookie" not in response.headers


async def test_dependency_verifies_routes_without_the_middleware() -> None:
    tokens = CSRFTokens(SECRET, session_cookie="session", cookie_secure=False)
    csrf_token = make_csrf_token_dependency(tokens)
    app = FastAPI()
    register_exception_handlers(app)

    @app.post("/login")
    async def login(response: Response, token: str = Depends(csrf_token)) -> dict[str, str]:
        set_cookie(response, "session", "s1", secure=False)  # no session yet: not checked
        return {"csrf_token": token}

    @app.get("/csrf")
    async def get_csrf(token: str = Depends(csrf_token)) -> dict[str, str]:
        return {"csrf_token": token}

    @app.post("/transfer")
    async def transfer(token: str = Depends(csrf_token)) -> dict[str, bool]:
        return {"ok": True}

    async with client(app) as browser:
        await browser.post("/login")
        refused(await browser.post("/transfer"), "bad_cookie")  # issued before the session
        token = (await browser.get("/csrf")).json()["csrf_token"]
        assert token == token_of(browser)
        refused(await browser.post("/transfer"), "missing_token")
        assert (await browser.post("/transfer", headers={HEADER: token})).status_code == 200


def test_importable_from_tempest() -> None:
    assert TopCSRFMiddleware is CSRFMiddleware and top_dependency is make_csrf_token_dependency


# Settings.


def test_from_settings() -> None:
    app = FastAPI()
    settings = Settings(
        SECRET_KEY=SECRET,
        DEBUG=True,
        CSRF_SESSION_COOKIE_NAME="session",
        CSRF_EXEMPT_PATHS=["/hooks"],
        INSTALLED_APPS=["tempest.contrib.admin"],
    )
    middleware = CSRFMiddleware.from_settings(app, settings)
    tokens = middleware.tokens
    assert (tokens.cookie_name, tokens.header_name, tokens.session_cookie) == (
        "csrftoken",
        "X-CSRF-Token",
        "session",
    )
    assert tokens.cookie_secure is False  # DEBUG
    assert middleware._prefixes == ("/hooks/", "/admin/")
    production = CSRFMiddleware.from_settings(app, Settings(SECRET_KEY=SECRET)).tokens
    assert production.cookie_secure is True and production.session_cookie is None
    with pytest.raises(ValueError, match="SECRET_KEY of at least 32 bytes"):
        CSRFMiddleware.from_settings(app, Settings(SECRET_KEY=""))


# The admin keeps its own form token with the middleware on.


class _OneAdmin(AdminAuthBackend):
    """One principal, ``admin@example.com`` / ``pw``: the admin's sign-in without a table."""

    async def authenticate(self, session: AsyncSession, *, identifier: str, password: str) -> Any:
        if (identifier, password) != ("admin@example.com", "pw"):
            raise AdminAuthError("Wrong email or password.")
        return "1"

    async def load_principal(self, session: AsyncSession, principal_id: str) -> Any | None:
        return principal_id if principal_id == "1" else None

    def principal_id(self, principal: Any) -> str:
        return str(principal)

    def display_name(self, principal: Any) -> str:
        return "admin@example.com"


_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: str) -> str:
    found = _FORM_TOKEN.search(page)
    assert found is not None, page
    return html.unescape(found.group(1))


async def test_admin_forms_work_with_the_middleware_on(tmp_path: Any) -> None:
    db = AsyncDatabaseManager(f"sqlite+aiosqlite:///{tmp_path / 'admin.sqlite3'}")
    await db.connect()
    try:
        app = build()
        app.include_router(
            make_admin_router(
                AdminSite(),
                db=db,
                secret_key=SECRET,
                cookie_secure=False,
                auth_backend=_OneAdmin(),
                show_metrics=False,
            )
        )
        settings = Settings(
            SECRET_KEY=SECRET,
            DEBUG=True,
            CSRF_SESSION_COOKIE_NAME="session",
            INSTALLED_APPS=["tempest.contrib.admin"],
        )
        app.user_middleware.clear()
        app.add_middleware(cast(Any, lambda inner: CSRFMiddleware.from_settings(inner, settings)))
        async with signed_in(app) as browser:  # the API's session cookie is sent too
            page = await browser.get("/admin/login")
            token = form_token(page.text)
            # The admin's own check still refuses a form without its token...
            bad = await browser.post("/admin/login", data={"username": "x", "password": "y"})
            assert bad.status_code == 403
            assert "security token" in bad.text
            # ...and accepts one with it, though no X-CSRF-Token header is sent.
            form = {"csrf_token": token, "username": "admin@example.com", "password": "pw"}
            signed = await browser.post("/admin/login", data=form)
            assert signed.status_code == 303, signed.text
            dashboard = await browser.get("/admin/")
            assert dashboard.status_code == 200
            out = await browser.post(
                "/admin/logout", data={"csrf_token": form_token(dashboard.text)}
            )
            assert out.status_code == 303
            # The API beside it is still protected.
            refused(await browser.post("/api/items"), "missing_token")
    finally:
        await db.disconnect()
