"""The client IP on a real server: uvicorn must not believe X-Forwarded-For behind tempest's back.

uvicorn's own default trusts ``X-Forwarded-For`` / ``X-Forwarded-Proto`` from 127.0.0.1 and
rewrites ``scope["client"]`` from it, before any tempest code runs: a spoofed header from a
local client would change the address the throttles key on. ``manage.py serve`` and
``runserver`` hand uvicorn ``TRUSTED_PROXIES`` instead. The project here trusts one proxy
address, 127.0.0.2 (all of 127.0.0.0/8 is the loopback on Linux, so a test can connect
from it), and shows what the app sees from it and from 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import serve_project, tempest

pytestmark = pytest.mark.e2e

PROXY = "127.0.0.2"

WHOAMI = """

from starlette.requests import Request

from tempest.conf import settings
from tempest.utils.client_ip import get_client_ip


@application.get("/whoami")
async def whoami(request: Request) -> dict[str, object]:
    return {
        "peer": request.client.host if request.client else None,
        "ip": get_client_ip(request, trusted_proxies=settings.TRUSTED_PROXIES),
        "scheme": request.url.scheme,
    }
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new project whose ASGI module adds ``/whoami`` (what the app sees of the client)."""
    root = tmp_path_factory.mktemp("client_ip")
    created = tempest(root, "startproject", "ipsite")
    assert created.returncode == 0, created.stderr
    project = root / "ipsite"
    asgi = project / "ipsite" / "asgi.py"
    asgi.write_text(asgi.read_text() + WHOAMI)
    return project


@pytest.fixture(scope="module")
def served(project: Path) -> Iterator[int]:
    """``manage.py serve --workers 2`` trusting the proxy at 127.0.0.2 only; its port."""
    env = {"TRUSTED_PROXIES": f'["{PROXY}/32"]'}
    with serve_project(project, "serve", "--workers", "2", env=env) as (base, _):
        yield int(base.rsplit(":", 1)[1])


def whoami(port: int, *headers: bytes, source: str = "127.0.0.1") -> dict[str, Any]:
    """GET /whoami from ``source`` with raw ``headers``; the JSON answer."""
    lines = [b"GET /whoami HTTP/1.1", b"Host: 127.0.0.1", *headers, b"Connection: close"]
    with socket.create_connection(
        ("127.0.0.1", port), timeout=10, source_address=(source, 0)
    ) as connection:
        connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"200", answer[:300]
    payload: dict[str, Any] = json.loads(rest.partition(b"\r\n\r\n")[2])
    return payload


SPOOFS = [
    (b"X-Forwarded-For: 198.51.100.7",),
    (b"X-Forwarded-For: 198.51.100.7, 127.0.0.2",),
    (b"Forwarded: for=198.51.100.7",),
    (b"X-Forwarded-For: 6.6.6.6", b"X-Forwarded-For: 198.51.100.7"),
    (b"X-Forwarded-For: [2001:db8::1]:443",),
    (b"X-Forwarded-For: " + b", ".join([b"198.51.100.7"] * 50),),
]


@pytest.mark.parametrize("headers", SPOOFS, ids=["xff", "chain", "forwarded", "two", "v6", "50"])
def test_a_spoofed_header_from_a_local_untrusted_client_is_ignored(
    served: int, headers: tuple[bytes, ...]
) -> None:
    seen = whoami(served, *headers, b"X-Forwarded-Proto: https")
    assert seen == {"peer": "127.0.0.1", "ip": "127.0.0.1", "scheme": "http"}


def test_the_trusted_proxy_names_the_client_and_the_scheme(served: int) -> None:
    seen = whoami(
        served,
        b"X-Forwarded-For: 6.6.6.6, 198.51.100.7",
        b"X-Forwarded-Proto: https",
        source=PROXY,
    )
    assert seen == {"peer": "198.51.100.7", "ip": "198.51.100.7", "scheme": "https"}
    seen = whoami(served, b'Forwarded: for="[2001:db8::1]:4711"', source=PROXY)
    assert seen["ip"] == "2001:db8::1"
    assert seen["peer"] == PROXY  # uvicorn reads only X-Forwarded-*; tempest reads Forwarded
    assert whoami(served, source=PROXY)["ip"] == PROXY


def test_garbage_from_the_trusted_proxy_never_fails_the_request(served: int) -> None:
    # uvicorn puts the rightmost untrusted entry into scope["client"] as it is; tempest
    # refuses what is not an address, so the client is unknown (None), never the garbage.
    for garbage in (b"unknown", b"<script>", b"1.2.3", b"::::", b"_hidden", b" , "):
        seen = whoami(served, b"X-Forwarded-For: " + garbage, source=PROXY)
        assert seen["ip"] in (None, PROXY), (garbage, seen)
        assert seen["scheme"] == "http"


@pytest.mark.parametrize("options", [(), ("--noreload",)], ids=["reloader", "noreload"])
def test_runserver_does_not_believe_a_local_client_either(
    project: Path, options: tuple[str, ...]
) -> None:
    with serve_project(project, "runserver", *options) as (base, _):
        port = int(base.rsplit(":", 1)[1])
        seen = whoami(port, b"X-Forwarded-For: 198.51.100.7", b"X-Forwarded-Proto: https")
    assert seen == {"peer": "127.0.0.1", "ip": "127.0.0.1", "scheme": "http"}


SERVICE = """
from dataclasses import dataclass, field

from fastapi import FastAPI, Request

app = FastAPI()


@app.get("/whoami")
async def whoami(request: Request) -> dict[str, object]:
    return {{"peer": request.client.host, "scheme": request.url.scheme}}


@dataclass(frozen=True)
class Config:
    SERVER_HOST: str = "127.0.0.1"
    SERVER_PORT: int = {port}
    SERVER_RELOAD: bool = False
    TRUSTED_PROXIES: list[str] = field(default_factory=lambda: ["{proxy}/32"])
"""


def test_run_server_hands_uvicorn_the_trusted_proxies(tmp_path: Path) -> None:
    import subprocess

    from tests.helpers import PYTHON, clean_env, free_port, stop_group, wait_for_http

    port = free_port()
    (tmp_path / "service.py").write_text(SERVICE.format(port=port, proxy=PROXY))
    code = (
        "import service\n"
        "from tempest.api import run_server\n"
        "run_server('service:app', settings=service.Config(), log_level='warning')\n"
    )
    process = subprocess.Popen(
        [PYTHON, "-c", code],
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=str(tmp_path)),
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/whoami")
        spoof = (b"X-Forwarded-For: 198.51.100.7", b"X-Forwarded-Proto: https")
        assert whoami(port, *spoof)["peer"] == "127.0.0.1"
        # Without settings.TRUSTED_PROXIES uvicorn would believe 127.0.0.1 and not 127.0.0.2.
        assert whoami(port, *spoof, source=PROXY) == {"peer": "198.51.100.7", "scheme": "https"}
    finally:
        stop_group(process)
