"""Hello JSON through get_asgi_application() vs a bare FastAPI app, at ASGI level.

All apps serve the same endpoint at the same path; requests are driven in-process (no
network), interleaved in rounds so that all see the same machine state. Two baselines:
the endpoint in an APIRouter included under a prefix (how tempest mounts an app's router,
and how FastAPI apps are usually split), and the endpoint declared on the app itself.
Prints requests per second and the ratios (target: tempest >= 0.85x bare FastAPI).

Measured (2026-12-06, 2 shared cores under other load, 2 runs of 9 alternating rounds of
5,000 requests, medians): tempest / FastAPI route on the app 0.94 and 0.96, tempest /
FastAPI included router 1.17 and 1.10 (was 0.74 against the app route before tempest
copied app routers into the app's route table and left FastAPI's telemetry off while no
OpenTelemetry provider is configured). Single rounds spread widely on a loaded machine
(0.8-1.1 against the app route): compare medians.

Usage: .venv/bin/python bench/hello_asgi.py [--requests 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROUTERS = """
from fastapi import APIRouter

router = APIRouter()


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
"""
PATH = "/api/hello/hello"


def tempest_app(workdir: Path) -> Any:
    (workdir / "hello").mkdir()
    (workdir / "hello" / "__init__.py").write_text("")
    (workdir / "hello" / "routers.py").write_text(ROUTERS)
    sys.path.insert(0, str(workdir))
    os.chdir(workdir)
    from tempest.conf import Settings, settings
    from tempest.core.asgi import get_asgi_application

    settings.configure(  # type: ignore[attr-defined]
        Settings(
            INSTALLED_APPS=["hello"],
            DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'db.sqlite3'}",
            LOG_LEVEL="WARNING",
            ALLOWED_HOSTS=["bench"],  # the Host of SCOPE: the host check runs, and passes
        )
    )
    return get_asgi_application()


def bare_app() -> Any:
    """The endpoint declared on the app itself."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(PATH)
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app


def bare_app_with_router() -> Any:
    """The endpoint in an APIRouter included under a prefix, as apps are usually split."""
    from fastapi import APIRouter, FastAPI

    router = APIRouter()

    @router.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    app = FastAPI()
    app.include_router(router, prefix="/api/hello")
    return app


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"bench"), (b"accept", b"application/json")],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}


async def drive(app: Any, requests: int) -> float:
    """Send ``requests`` GETs through ``app``; return requests per second."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    elapsed = time.perf_counter() - start
    if set(statuses) != {200} or len(statuses) != requests:
        raise SystemExit(f"unexpected responses: {sorted(set(statuses))}")
    return requests / elapsed


async def main(requests: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        apps = {
            "tempest": tempest_app(Path(workdir)),
            "fastapi-router": bare_app_with_router(),
            "fastapi-app-route": bare_app(),
        }
        results: dict[str, list[float]] = {name: [] for name in apps}
        for app in apps.values():  # warm-up: build middleware stacks, caches
            await drive(app, 500)
        for _ in range(rounds):
            for name, app in apps.items():
                results[name].append(await drive(app, requests))
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        rounds_text = ", ".join(f"{v:,.0f}" for v in results[name])
        print(f"{name:18} median {value:10,.0f} req/s  (rounds: {rounds_text})")
    for baseline in ("fastapi-router", "fastapi-app-route"):
        ratio = medians["tempest"] / medians[baseline]
        print(f"ratio tempest / {baseline}: {ratio:.3f}  (target >= 0.85)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.rounds))
