"""RateLimitMiddleware's cost at ASGI level: the default project stack with and without it.

Same harness as ``bench/hello_asgi.py`` (the hello route, requests driven in-process,
rounds interleaved so that every app sees the same machine state). Apps:

- ``fastapi``: bare FastAPI, the route in an included router;
- ``tempest``: the default project stack (``get_asgi_application()``);
- ``tempest+limit-memory``: the same with ``RateLimitMiddleware`` in MIDDLEWARE, memory
  store (target: >= 0.8x ``fastapi``);
- ``tempest+limit-redis``: the same on a Redis store (a ``redis-server`` started for the
  bench on a free port, or ``--redis-url``): the added microseconds per request, and the
  Redis round trips per request counted with ``INFO commandstats`` (commands clients sent;
  those the script runs inside Redis are not round trips).

Every request is allowed (the limit is far above what a round sends), so each one pays
for the full check and the headers.

Measured (2026-12-06, 2 shared cores, load average 2.8 from other work, 9 rounds of 3,000
requests, medians): fastapi 7,774 req/s, tempest 7,291, tempest+limit-memory 8,341 (1.07x
fastapi; an earlier run 1.00x), tempest+limit-redis 1,793 (0.23x): the Redis store adds
about 420 us per request on this loaded machine, for exactly 1.000 Redis round trip per
request (redis-py's own PING costs 150-280 us here). Rounds spread widely under this load;
the memory limiter's own cost, measured alone around a bare ASGI app, is about 6 us.

Usage: .venv/bin/python bench/rate_limit.py [--requests 3000] [--rounds 9] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hello_asgi import ROUTERS, bare_app_with_router, drive

LIMITED = [
    "tempest.api.middleware.RequestIDMiddleware",
    "tempest.api.middleware.CORSMiddleware",
    "tempest.api.middleware.RateLimitMiddleware",
]


async def tempest_app(workdir: Path, **values: Any) -> Any:
    """The project's app from settings; its middleware stack is built (first request)."""
    from tempest.conf import Settings, settings
    from tempest.core.asgi import get_asgi_application

    settings.configure(  # type: ignore[attr-defined]
        Settings(
            INSTALLED_APPS=["hello"],
            DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'db.sqlite3'}",
            LOG_LEVEL="WARNING",
            ALLOWED_HOSTS=["bench"],
            **values,
        )
    )
    app = get_asgi_application()
    await drive(app, 10)  # builds the stack while these settings are the current ones
    return app


def start_redis(workdir: Path) -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed: pass --redis-url")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"redis://127.0.0.1:{port}/0", process
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# In-script commands are no round trip; INFO and CLIENT SETINFO are the measurement's own.
_IN_SCRIPT = {"time", "zremrangebyscore", "zcard", "zadd", "pexpire", "zrange", "info"}
_NOT_COUNTED = _IN_SCRIPT | {"client|setinfo"}


async def sent_commands(url: str) -> int:
    """Commands clients sent to the server so far (INFO itself and in-script ones excluded)."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name.removeprefix("cmdstat_") not in _NOT_COUNTED
    )


async def main(requests: int, rounds: int, redis_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "hello").mkdir()
        (workdir / "hello" / "__init__.py").write_text("")
        (workdir / "hello" / "routers.py").write_text(ROUTERS)
        sys.path.insert(0, str(workdir))
        os.chdir(workdir)
        server = None
        if redis_url is None:
            redis_url, server = start_redis(workdir)
        try:
            limit = {"RATE_LIMIT_REQUESTS": 10**9, "RATE_LIMIT_WINDOW_SECONDS": 2.0}
            apps = {
                "fastapi": bare_app_with_router(),
                "tempest": await tempest_app(workdir),
                "tempest+limit-memory": await tempest_app(
                    workdir, MIDDLEWARE=LIMITED, RATE_LIMIT_URL="memory://", **limit
                ),
                "tempest+limit-redis": await tempest_app(
                    workdir, MIDDLEWARE=LIMITED, RATE_LIMIT_URL=redis_url, **limit
                ),
            }
            results: dict[str, list[float]] = {name: [] for name in apps}
            for app in apps.values():
                await drive(app, 300)  # warm-up
            redis_requests = 0
            before = await sent_commands(redis_url)
            for _ in range(rounds):
                for name, app in apps.items():
                    results[name].append(await drive(app, requests))
                    if name == "tempest+limit-redis":
                        redis_requests += requests
            round_trips = (await sent_commands(redis_url) - before) / redis_requests
        finally:
            if server is not None:
                server.kill()
                server.wait()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        rounds_text = ", ".join(f"{v:,.0f}" for v in results[name])
        print(f"{name:22} median {value:9,.0f} req/s  (rounds: {rounds_text})")
    base = medians["fastapi"]
    for name in ("tempest", "tempest+limit-memory", "tempest+limit-redis"):
        print(f"ratio {name} / fastapi: {medians[name] / base:.3f}")
    print("target: tempest+limit-memory / fastapi >= 0.8")
    for name in ("tempest+limit-memory", "tempest+limit-redis"):
        added = (1 / medians[name] - 1 / medians["tempest"]) * 1e6
        print(f"added by the limiter ({name.rsplit('-', 1)[1]}): {added:.1f} us per request")
    print(f"Redis round trips per request: {round_trips:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--redis-url", default=None, help="default: a redis-server of its own")
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.rounds, options.redis_url))
