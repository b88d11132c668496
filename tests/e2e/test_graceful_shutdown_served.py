"""SIGTERM on a real ``manage.py serve`` with GracefulShutdownMiddleware in MIDDLEWARE.

What really happens, second by second (drain 2 s, GRACEFUL_SHUTDOWN_TIMEOUT 3 s):

- t=0: SIGTERM. The middleware starts the drain: the server still accepts connections;
  readiness answers 503, liveness 200, any other new request 503 with ``Connection:
  close`` and ``Retry-After``. The requests in flight go on.
- t=2: the drain is over and SIGTERM reaches uvicorn, which closes its listening socket
  (a new connection is refused from then on) and waits for the requests in flight.
- t=5: the ones still running are cancelled (uvicorn answers them 500, as the response
  had not started); the process exits.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import serve_project

pytestmark = pytest.mark.e2e

SLOW_ROUTE = '''

@router.get("/slow", include_in_schema=False)
async def slow(seconds: float) -> dict[str, float]:
    """Sleep, as a long request would (tests/e2e/test_graceful_shutdown_served.py)."""
    import asyncio

    await asyncio.sleep(seconds)
    return {"slept": seconds}
'''

MIDDLEWARE = (
    '["tempest.api.middleware.GracefulShutdownMiddleware",'
    ' "tempest.api.middleware.RequestIDMiddleware", "tempest.api.middleware.CORSMiddleware"]'
)


@pytest.fixture(scope="module")
def project(shared_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared project whose orders app has ``GET /api/orders/slow``."""
    copy = tmp_path_factory.mktemp("graceful") / "shop"
    shutil.copytree(shared_project, copy)
    routers = copy / "orders" / "routers.py"
    code = routers.read_text(encoding="utf-8")
    anchor = 'router = APIRouter(tags=["orders"])\n'
    assert anchor in code
    # Before the app's own routes: /slow must not be taken for an order's /{id}.
    routers.write_text(code.replace(anchor, anchor + SLOW_ROUTE + "\n"), encoding="utf-8")
    return copy


class Request(threading.Thread):
    """One GET in a thread of its own: status, headers and body, or the error."""

    def __init__(self, port: int, path: str) -> None:
        super().__init__(daemon=True)
        self.port, self.path = port, path
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.status, self.headers, self.body = get(self.port, self.path, timeout=30)
        except (OSError, http.client.HTTPException) as error:
            self.error = error


def get(port: int, path: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_drains_then_stops_listening_and_finishes_requests_in_flight(
    project: Path,
) -> None:
    env = {
        "MIDDLEWARE": MIDDLEWARE,
        "GRACEFUL_SHUTDOWN_DRAIN_SECONDS": "2",
        "GRACEFUL_SHUTDOWN_TIMEOUT": "3",
    }
    with serve_project(project, "serve", env=env, capture=True) as (base, process):
        port = int(base.rsplit(":", 1)[1])
        finishing = Request(port, "/api/orders/slow?seconds=3.5")
        overlong = Request(port, "/api/orders/slow?seconds=60")
        finishing.start()
        overlong.start()
        time.sleep(0.5)  # both are in flight
        os.killpg(process.pid, signal.SIGTERM)
        sent = time.monotonic()
        time.sleep(0.2)

        # The drain: still listening, readiness first, new requests 503 + Connection: close.
        status, headers, body = get(port, "/health/readiness")
        assert status == 503, body
        assert b'"shutdown":"failing"' in body
        assert get(port, "/health/liveness")[0] == 200
        status, headers, body = get(port, "/api/orders/")
        assert status == 503, body
        assert headers["connection"] == "close"
        assert headers["retry-after"] == "5"
        assert b'"code":"SERVICE_SHUTTING_DOWN"' in body
        assert time.monotonic() - sent < 2, "the machine was too slow to test the drain"

        # After the drain uvicorn closes the socket: a new connection is refused.
        while not refused(port):
            assert time.monotonic() - sent < 3.5, "the listening socket stayed open"
            time.sleep(0.1)
        assert time.monotonic() - sent >= 2

        # The request in flight finished; the overlong one was cancelled at the deadline.
        finishing.join(timeout=10)
        assert (finishing.status, finishing.body) == (200, b'{"slept":3.5}'), finishing.error
        process.wait(timeout=15)
        stopped = time.monotonic() - sent
        overlong.join(timeout=5)
        # uvicorn answers 500 for the cancelled request (its response had not started).
        assert overlong.status == 500, (overlong.error, overlong.body)
        assert stopped < 2 + 3 + 3, f"the process took {stopped:.1f}s to stop"
    output: Any = process.stdout.read() if process.stdout else ""
    assert "Drain over" in output or "Shutting down" in output, output
