"""Idempotency keys across processes: ``manage.py serve --workers 2``, keys in Redis.

A generated project with the ``startapp`` example (``orders``), PostgreSQL, and
``IdempotencyMiddleware`` switched on by the ``MIDDLEWARE`` setting alone; the keys live in
the project's Redis (``REDIS_URL``), then in its database (``IDEMPOTENCY_URL =
"database://"`` with the ``tempest.contrib.idempotency`` app). Side effects are counted in
PostgreSQL rows.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import manage, serve_project, tempest
from tests.services import fetch_rows, scratch_database

pytestmark = pytest.mark.e2e

EMAIL = "ana@example.com"
PASSWORD = "a-Long-pass-word-1"
REQUESTS = 50
PREFIX = "tempest:idempotency:"


async def _forget_keys(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=PREFIX + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The migrated project with a superuser: (folder, settings for its processes)."""
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    server = service_url("TEMPEST_TEST_DATABASE_URL")
    root = tmp_path_factory.mktemp("idempotency")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "orders")
    assert app.returncode == 0, app.stderr
    settings_file = project / "shop" / "settings.py"
    settings_file.write_text(
        settings_file.read_text().replace(
            '"tempest.contrib.admin",',
            '"tempest.contrib.admin",\n        "tempest.contrib.idempotency",',
        )
    )
    asyncio.run(_forget_keys(redis_url))
    with scratch_database(server, f"tempest_idem_{uuid.uuid4().hex[:8]}") as database_url:
        env: dict[str, str] = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MIDDLEWARE": json.dumps(
                [
                    "tempest.api.middleware.RequestIDMiddleware",
                    "tempest.api.middleware.CORSMiddleware",
                    "tempest.api.middleware.IdempotencyMiddleware",
                ]
            ),
            "JWT_SECRET": secrets.token_urlsafe(48),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "AUTH_PASSWORD_HASH_ROUNDS": "4",
        }
        for step in ("makemigrations", "migrate"):
            result = manage(project, step, **env)  # type: ignore[arg-type]
            assert result.returncode == 0, result.stderr
        superuser = manage(
            project,
            "createsuperuser",
            "--noinput",
            TEMPEST_SUPERUSER_EMAIL=EMAIL,
            TEMPEST_SUPERUSER_PASSWORD=PASSWORD,
            **env,  # type: ignore[arg-type]
        )
        assert superuser.returncode == 0, superuser.stderr
        try:
            yield project, env
        finally:
            asyncio.run(_forget_keys(redis_url))


@pytest.fixture(scope="module", params=["redis", "database"])
def served(
    request: pytest.FixtureRequest, project: tuple[Path, dict[str, str]]
) -> Iterator[tuple[str, str, str, str]]:
    """The project served by two workers, keys in Redis or in the database: (base URL,
    bearer token, database URL, store)."""
    folder, env = project
    if request.param == "database":
        env = {**env, "IDEMPOTENCY_URL": "database://"}
    with serve_project(folder, "serve", "--workers", "2", env=env) as (base, _):
        login = httpx.post(f"{base}/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield base, login.json()["access_token"], env["DATABASE_URL"], request.param


def test_database_keys_without_their_app_fail_the_system_check(
    project: tuple[Path, dict[str, str]],
) -> None:
    folder, env = project
    apps = json.dumps(["tempest.contrib.auth", "tempest.contrib.admin", "orders"])
    result = manage(
        folder,
        "check",
        IDEMPOTENCY_URL="database://",
        INSTALLED_APPS=apps,
        **env,  # type: ignore[arg-type]
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "tempest.E027" in output and "tempest.contrib.idempotency" in output, output


async def _burst(base: str, token: str, key: str, body: dict[str, Any]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}

    async def post() -> httpx.Response:
        # A client of its own: a new connection, which either worker may accept.
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            return await client.post("/api/orders", json=body, headers=headers)

    return list(await asyncio.gather(*(post() for _ in range(REQUESTS))))


def _rows(database_url: str, name: str) -> int:
    query = f"SELECT count(*) AS n FROM \"order\" WHERE name = '{name}'"
    return int(asyncio.run(fetch_rows(database_url, query))[0]["n"])


def test_fifty_concurrent_posts_with_one_key_create_one_row(
    served: tuple[str, str, str, str],
) -> None:
    base, token, database_url, store = served
    key = str(uuid.uuid4())
    name = f"order {key[:8]}"
    responses = asyncio.run(_burst(base, token, key, {"name": name}))

    statuses = sorted({response.status_code for response in responses})
    assert set(statuses) <= {201, 409}, [
        r.text for r in responses if r.status_code not in (201, 409)
    ]
    created = [response for response in responses if response.status_code == 201]
    assert created, "at least the first request is answered 201"
    assert len({response.content for response in created}) == 1, "every 201 is the same answer"
    fresh = [r for r in created if r.headers.get("idempotent-replayed") != "true"]
    assert len(fresh) == 1, "one request ran, the other 201s are replays"
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "IDEMPOTENCY_KEY_IN_USE"
    assert _rows(database_url, name) == 1
    keys_in_database = asyncio.run(
        fetch_rows(database_url, "SELECT count(*) AS n FROM idempotency_key WHERE committed")
    )[0]["n"]
    assert keys_in_database == (1 if store == "database" else 0)

    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    later = httpx.post(f"{base}/api/orders", json={"name": name}, headers=headers)
    assert later.status_code == 201
    assert later.headers["idempotent-replayed"] == "true"
    assert later.content == created[0].content

    reused = httpx.post(f"{base}/api/orders", json={"name": "another"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert _rows(database_url, name) == 1
    assert _rows(database_url, "another") == 0


def test_a_malformed_key_is_refused_before_the_route_runs(
    served: tuple[str, str, str, str],
) -> None:
    base, token, database_url, _ = served
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "x" * 256}
    response = httpx.post(f"{base}/api/orders", json={"name": "too-long-key"}, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert _rows(database_url, "too-long-key") == 0
