"""ALLOWED_HOSTS: requests for a host the project does not serve are refused with a 400.

The apps are built by get_asgi_application from settings, as a project's are; requests
go through httpx's ASGI transport with the Host header under test, or straight to the
ASGI callable for headers httpx would not send (NUL bytes, no Host, two Hosts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

Build = Callable[..., Any]


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Build]:
    """Build the project's app from settings values."""
    monkeypatch.chdir(tmp_path)

    def make(**values: Any) -> Any:
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(**values))  # type: ignore[attr-defined]
        return get_asgi_application()

    yield make
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


async def get(app: Any, host: str, path: str = "/health/liveness") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.get(path, headers={"Host": host})


async def raw(app: Any, headers: list[tuple[bytes, bytes]], path: str = "/docs") -> tuple[int, Any]:
    """Call the ASGI app with exactly these headers; (status, JSON body or text)."""
    import json

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("latin-1")


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "code", "details"}
    assert body["code"] == "DISALLOWED_HOST"


async def test_an_unknown_host_gets_a_400_envelope(build: Build) -> None:
    app = build(ALLOWED_HOSTS=["shop.example.com"])
    for host in ["evil.example", "shop.example.com.evil.example", "api.shop.example.com"]:
        assert_refused(await get(app, host, "/docs"))
    for host in [
        "shop.example.com",
        "SHOP.Example.com",
        "shop.example.com:8443",
        "shop.example.com.",
    ]:
        response = await get(app, host, "/docs")
        assert response.status_code == 200, host


async def test_production_refuses_everything_until_allowed_hosts_is_set(build: Build) -> None:
    app = build()  # DEBUG off, ALLOWED_HOSTS empty: like Django, no host is served
    for host in ["localhost", "127.0.0.1", "shop.example.com"]:
        assert_refused(await get(app, host, "/docs"))
    # The production answer says nothing about the settings.
    response = await get(app, "evil.example", "/docs")
    assert "ALLOWED_HOSTS" not in response.text and "evil" not in response.text


async def test_debug_serves_localhost_and_says_what_to_fix(build: Build) -> None:
    app = build(DEBUG=True)
    for host in ["localhost", "localhost:8000", "app.localhost", "127.0.0.1:8000", "[::1]:8000"]:
        assert (await get(app, host, "/docs")).status_code == 200, host
    for host in ["evil.example", "192.168.1.20:8000", "localhost.evil.example"]:
        response = await get(app, host, "/docs")
        assert_refused(response)
    details = response.json()["details"]
    assert details["host"] == "localhost.evil.example"
    assert "ALLOWED_HOSTS" in response.json()["detail"]


async def test_a_dot_pattern_allows_the_domain_and_its_subdomains(build: Build) -> None:
    app = build(ALLOWED_HOSTS=[".example.com", "*.shop.test"])
    for host in ["example.com", "api.example.com", "a.b.example.com:443", "eu.shop.test"]:
        assert (await get(app, host, "/docs")).status_code == 200, host
    for host in ["badexample.com", "example.com.evil.example", "shop.test", "x.shop.test.evil"]:
        assert_refused(await get(app, host, "/docs"))


async def test_a_star_allows_any_host(build: Build) -> None:
    app = build(ALLOWED_HOSTS=["*"])
    assert (await get(app, "anything.example", "/docs")).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        b"shop.example.com\x00.evil.example",
        b"shop.example.com\x00",
        b"a" * 100_000,
        b"shop.example.com:99999999999999999999",
        b"shop.example.com:http",
        b"shop.example.com:",
        b"shop.example.com:8000:9000",
        b"[::1",
        b"[zz::1]",
        b"user@shop.example.com",
        b"shop.example.com/path",
        b"",
        b" shop.example.com",
        "sh\u00f6p.example.com".encode(),
        b"\xff\xfe",
    ],
)
async def test_malformed_hosts_are_400_never_500(build: Build, host: bytes) -> None:
    app = build(ALLOWED_HOSTS=["shop.example.com", ".example.com"])
    status, body = await raw(app, [(b"host", host)])
    assert status == 400
    assert body["code"] == "DISALLOWED_HOST"


async def test_a_missing_or_repeated_host_is_refused(build: Build) -> None:
    app = build(ALLOWED_HOSTS=["shop.example.com"])
    assert (await raw(app, []))[0] == 400
    twice = [(b"host", b"shop.example.com"), (b"host", b"evil.example")]
    assert (await raw(app, twice))[0] == 400
    assert (await raw(app, [(b"host", b"shop.example.com")]))[0] == 200


async def test_health_probes_answer_whatever_the_host(build: Build) -> None:
    app = build(ALLOWED_HOSTS=["shop.example.com"])
    # Load balancers and Kubernetes probe the pod by IP: the probes must answer them.
    assert (await get(app, "10.0.3.7:8000", "/health/liveness")).status_code == 200
    # Nothing else does: neither other paths nor other methods.
    assert_refused(await get(app, "10.0.3.7:8000", "/health/livenessx"))
    assert_refused(await get(app, "10.0.3.7:8000", "/health/../docs"))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.3.7") as http:
        assert_refused(await http.post("/health/liveness"))


async def test_the_test_client_host_is_served(build: Build) -> None:
    # tests/conftest.py allows the test clients' hosts, as Django's test runner adds
    # 'testserver'; the project's own hosts keep being checked.
    app = build(ALLOWED_HOSTS=["shop.example.com"])
    assert (await get(app, "testserver", "/docs")).status_code == 200
    assert_refused(await get(app, "evil.example", "/docs"))


@pytest.mark.parametrize(
    "pattern",
    ["https://shop.example.com", "shop.example.com:8000", "*example.com", "shop.*.com", ""],
)
def test_a_pattern_that_cannot_match_is_refused_at_start(pattern: str) -> None:
    with pytest.raises(ValidationError, match="ALLOWED_HOSTS"):
        Settings(ALLOWED_HOSTS=[pattern])


@pytest.mark.parametrize(
    "url", ["shop.example.com", "ftp://shop.example.com", "https://", "https://a.example/?x=1"]
)
def test_site_url_must_be_an_absolute_http_url(url: str) -> None:
    with pytest.raises(ValidationError, match="SITE_URL"):
        Settings(SITE_URL=url)
