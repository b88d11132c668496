"""Emailed links come from the settings (SITE_URL, AUTH_FRONTEND_URL), never from the request.

The attack: a signup or password-reset request sent with ``Host: evil.example`` (or
``X-Forwarded-Host``) must not mail the victim a link to evil.example carrying a valid
token. ``ALLOWED_HOSTS=["*"]`` below lets such a request through the host check, as a
project behind a proxy that forwards any host would, so the links alone are tested.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.contrib.auth.conftest import PASSWORD, AuthEnv, Build

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

AUTH = "/api/auth"
EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def signup_as_evil(env: AuthEnv, email: str) -> None:
    response = await env.signup(email, **EVIL)
    assert response.status_code == 202, response.text


async def reset_as_evil(env: AuthEnv, email: str) -> None:
    response = await env.http.post(
        f"{AUTH}/password-reset/request", json={"email": email}, headers=EVIL
    )
    assert response.status_code == 202, response.text


@pytest.mark.parametrize("site_url", ["https://shop.example.com", "https://shop.example.com/"])
async def test_activation_and_reset_links_point_at_site_url_whatever_the_host(
    build: Build, site_url: str
) -> None:
    env = await build(SITE_URL=site_url, ALLOWED_HOSTS=["*"])
    await signup_as_evil(env, "ana@example.com")
    link = env.last_link()
    assert link.startswith("https://shop.example.com/api/auth/activate?token="), link
    assert "evil" not in link
    activated = await env.http.post(f"{AUTH}/activate", json={"token": token_of(link)})
    assert activated.status_code == 200

    resent = await env.http.post(
        f"{AUTH}/activate/resend", json={"email": "bob@example.com"}, headers=EVIL
    )
    assert resent.status_code == 202
    await reset_as_evil(env, "ana@example.com")
    link = env.last_link()
    assert link.startswith("https://shop.example.com/api/auth/password-reset?token="), link


async def test_a_resent_activation_link_points_at_site_url(build: Build) -> None:
    env = await build(SITE_URL="https://shop.example.com/store", ALLOWED_HOSTS=["*"])
    await signup_as_evil(env, "ana@example.com")
    response = await env.http.post(
        f"{AUTH}/activate/resend", json={"email": "ana@example.com"}, headers=EVIL
    )
    assert response.status_code == 202
    link = env.last_link()
    # SITE_URL may carry a path (an app served under a prefix): the pages live below it.
    assert link.startswith("https://shop.example.com/store/api/auth/activate?token="), link


async def test_the_frontend_url_wins_over_site_url(build: Build) -> None:
    env = await build(
        SITE_URL="https://api.shop.example.com",
        AUTH_FRONTEND_URL="https://shop.example.com/app",
        ALLOWED_HOSTS=["*"],
    )
    await signup_as_evil(env, "ana@example.com")
    assert env.last_link().startswith("https://shop.example.com/app/activate?token=")
    await env.http.post(f"{AUTH}/activate", json={"token": env.last_token()})
    await reset_as_evil(env, "ana@example.com")
    assert env.last_link().startswith("https://shop.example.com/app/password-reset?token=")


async def test_without_site_url_in_production_no_email_leaves_and_the_error_names_it(
    build: Build, caplog: pytest.LogCaptureFixture
) -> None:
    env = await build(ALLOWED_HOSTS=["*"], SITE_URL="")  # DEBUG is off
    with caplog.at_level(logging.ERROR):
        response = await env.signup("ana@example.com", **EVIL)
    assert response.status_code == 500
    assert "SITE_URL" not in response.text  # configuration stays server-side
    assert "SITE_URL" in caplog.text
    assert env.smtp.messages == []
    # Nothing was half done: once configured, the same email signs up.
    env = await build(SITE_URL="https://shop.example.com", ALLOWED_HOSTS=["*"])
    assert (await env.signup("ana@example.com")).status_code == 202

    # The reset request fails alike for a known and an unknown email: no account oracle.
    env = await build(ALLOWED_HOSTS=["*"], SITE_URL="", AUTH_REQUIRE_ACTIVATION=False)
    assert (await env.signup("a@b.example")).status_code == 202
    sent = len(env.smtp.messages)
    known = await env.http.post(f"{AUTH}/password-reset/request", json={"email": "a@b.example"})
    unknown = await env.http.post(f"{AUTH}/password-reset/request", json={"email": "x@b.example"})
    assert known.status_code == unknown.status_code == 500
    assert len(env.smtp.messages) == sent


async def test_in_debug_the_default_site_url_is_the_local_server(build: Build) -> None:
    env = await build(DEBUG=True, ALLOWED_HOSTS=["*"], SITE_URL="", SERVER_PORT=8123)
    await signup_as_evil(env, "ana@example.com")
    assert env.last_link().startswith("http://127.0.0.1:8123/api/auth/activate?token=")
    env = await build(DEBUG=True, ALLOWED_HOSTS=["*"], SITE_URL="", SERVER_HOST="0.0.0.0")
    await signup_as_evil(env, "bob@example.com")
    assert env.last_link().startswith("http://127.0.0.1:8000/api/auth/activate?token=")


async def test_the_emailed_link_opens_the_page_on_the_site(build: Build) -> None:
    env = await build(SITE_URL="http://testserver")
    response = await env.signup("ana@example.com", PASSWORD)
    assert response.status_code == 202
    page = await env.http.get(env.last_link())
    assert page.status_code == 200
