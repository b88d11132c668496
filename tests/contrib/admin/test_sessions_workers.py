"""A logout seen by every worker: ``manage.py serve --workers 2`` with the signed-out
sessions in Redis (``ADMIN_REVOKED_SESSIONS_URL``); the logged-out cookie is replayed on
fresh connections, which the two processes share between them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, run, serve_project

pytestmark = pytest.mark.e2e

COOKIE = "tempest_admin"
REPLAYS = 40
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def served(new_project: Callable[..., Path]) -> Iterator[str]:
    """A new project with an administrator, served by two worker processes."""
    root = new_project("shop")
    env = {
        "ADMIN_REVOKED_SESSIONS_URL": service_url("TEMPEST_TEST_REDIS_URL"),
        "ADMIN_COOKIE_SECURE": "false",
        "AUTH_PASSWORD_HASH_ROUNDS": "4",
    }
    for args in (
        ("migrate",),
        ("user", "create", "--email", "a@example.com", "--password", "pass-word-1", "--admin"),
    ):
        result = run([PYTHON, "manage.py", *args], root, env=clean_env(**env))
        assert result.returncode == 0, result.stderr
    with serve_project(root, "serve", "--workers", "2", env=env) as (base, _):
        yield base


def test_a_logged_out_cookie_is_refused_by_every_worker(served: str) -> None:
    with httpx.Client(base_url=served) as browser:
        page = browser.get("/admin/login")
        token = unescape(_TOKEN.search(page.text).group(1))  # type: ignore[union-attr]
        signed_in = browser.post(
            "/admin/login",
            data={"username": "a@example.com", "password": "pass-word-1", "csrf_token": token},
        )
        assert signed_in.status_code == 303, signed_in.text
        cookie = browser.cookies[COOKIE]
        dashboard = browser.get("/admin/")
        assert dashboard.status_code == 200
        token = unescape(_TOKEN.search(dashboard.text).group(1))  # type: ignore[union-attr]
        assert browser.post("/admin/logout", data={"csrf_token": token}).status_code == 303

    answers = []
    for _ in range(REPLAYS):  # a new connection each time: either worker may take it
        with httpx.Client(base_url=served) as thief:
            answers.append(thief.get("/admin/", headers={"Cookie": f"{COOKIE}={cookie}"}))
    assert {answer.status_code for answer in answers} == {303}
    assert all(a.headers["location"].startswith("/admin/login") for a in answers)
