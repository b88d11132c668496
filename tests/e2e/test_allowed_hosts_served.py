"""ALLOWED_HOSTS on a real server: ``manage.py serve`` with production settings, raw sockets.

The requests are written byte by byte, so that the Host headers no HTTP client would send
(NUL bytes, two Hosts, 10 kB) reach uvicorn and the app as an attacker would send them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import serve_project

pytestmark = pytest.mark.e2e

SITE = "shop.acme-store.com"


@pytest.fixture(scope="module")
def served(shared_project: Path) -> Iterator[int]:
    """``manage.py serve`` (DEBUG off) answering only ``shop.acme-store.com``; its port."""
    # The liveness probe that serve_project waits for answers whatever the Host (here
    # 127.0.0.1:port, as a load balancer's).
    settings = {"DEBUG": "false", "ALLOWED_HOSTS": f'["{SITE}"]', "SITE_URL": f"https://{SITE}"}
    with serve_project(shared_project, "serve", env=settings) as (base, _):
        yield int(base.rsplit(":", 1)[1])


def request(port: int, head: bytes) -> tuple[int, bytes]:
    """Send one raw request head; the status code and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head + b"\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def get(port: int, *headers: bytes, path: bytes = b"/api/nothing-here") -> tuple[int, bytes]:
    lines = [b"GET " + path + b" HTTP/1.1", *headers, b"Connection: close"]
    return request(port, b"\r\n".join(lines) + b"\r\n")


def test_the_site_host_is_served_and_another_is_a_400_envelope(served: int) -> None:
    status, body = get(served, b"Host: " + SITE.encode())
    assert status == 404 and json.loads(body)["code"] == "NOT_FOUND"  # reached the app
    status, body = get(served, b"Host: " + SITE.encode() + b":443")
    assert status == 404
    status, body = get(served, b"Host: evil.example", b"X-Forwarded-Host: " + SITE.encode())
    assert status == 400
    assert json.loads(body) == {
        "detail": "Invalid Host header",
        "code": "DISALLOWED_HOST",
        "details": {},
    }


@pytest.mark.parametrize(
    "headers",
    [
        (b"Host: " + SITE.encode() + b"\x00.evil.example",),
        (b"Host: " + b"a" * 10_000,),
        (b"Host: " + SITE.encode() + b":99999",),
        (b"Host: " + SITE.encode(), b"Host: evil.example"),
        (b"Host: evil.example", b"Host: " + SITE.encode()),
        (b"Host: [::1",),
        (b"Host:",),
        (),
    ],
    ids=["nul", "long", "port", "two-hosts", "two-hosts-reversed", "bracket", "empty", "none"],
)
def test_hostile_host_headers_are_refused_never_500(
    served: int, headers: tuple[bytes, ...]
) -> None:
    status, _ = get(served, *headers)
    assert 400 <= status < 500, status
    # The server is still up and still serving its site.
    assert get(served, b"Host: " + SITE.encode())[0] == 404


def test_health_probes_answer_an_ip_host_and_nothing_else_does(served: int) -> None:
    status, body = get(served, b"Host: 10.0.3.7:8000", path=b"/health/liveness")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert get(served, b"Host: 10.0.3.7:8000", path=b"/docs")[0] == 400
