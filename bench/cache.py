"""A cached route's hit path vs an uncached hello route, at ASGI level, in one project.

Same harness as ``bench/hello_asgi.py`` (requests driven in-process, rounds interleaved so
that every path sees the same machine state). One project app (the default stack,
``get_asgi_application()``) serves three routes returning the same JSON:

- ``hello``: the plain route (the baseline);
- ``cached-memory``: the same body through ``@cached_route`` on the project's memory
  cache, always a hit after the warm-up (target: >= 0.8x ``hello``);
- ``cached-memory-304``: the same hit with ``If-None-Match`` naming its ETag (a 304);

and a second project app whose cache is Redis (``REDIS_URL``; a ``redis-server`` started
for the bench on a free port, or ``--redis-url``) serves ``cached-redis``: the hit path
with one Redis round trip (``MGET`` of the entry and its counters).

Measured (2026-12-06, 2 shared cores, load average 3.0 from other work, 9 rounds of
3,000 requests, medians): hello 28,871 req/s, cached-memory 29,230 (1.01x hello),
cached-memory-304 28,433 (0.98x), cached-redis 3,859 (0.13x: the one Redis round trip of
a hit, an ``MGET`` of the entry and its counters, adds about 225 us on this loaded
machine, as redis-py's own PING does). A first version built a Starlette ``Response``
(header parsing), hashed the key and formatted the counter names on every hit: 0.66x.
Now a hit costs what the plain route costs: the route's body does not run, its value is
not validated or serialized again, the answer is the stored bytes with ready raw headers,
and keys and counter names are kept per route.

Usage: .venv/bin/python bench/cache.py [--requests 3000] [--rounds 9] [--redis-url URL]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hello_asgi import SCOPE
from rate_limit import start_redis

ROUTERS = """
from fastapi import APIRouter

from tempest.cache import cached_route

router = APIRouter()


@router.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


@router.get("/cached")
@cached_route(ttl=0)
async def cached() -> dict[str, str]:
    return {"hello": "world"}
"""


async def drive(app: Any, path: str, requests: int, headers: list[Any] | None = None) -> float:
    """Send ``requests`` GETs of ``path`` through ``app``; return requests per second."""
    statuses: list[int] = []
    scope = {**SCOPE, "path": path, "raw_path": path.encode()}
    scope["headers"] = [*SCOPE["headers"], *(headers or [])]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - start
    expected = 304 if headers else 200
    if set(statuses) != {expected} or len(statuses) != requests:
        raise SystemExit(f"{path}: unexpected responses {sorted(set(statuses))}")
    return requests / elapsed


async def project_app(workdir: Path, **values: Any) -> Any:
    """The project's app from settings, started (its lifespan builds the cache)."""
    from tempest.cache import reset_cache
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
    reset_cache()
    return get_asgi_application()


async def main(requests: int, rounds: int, redis_url: str | None) -> None:
    from tempest.cache import get_cache

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
            # The Redis app first: its cache (the project's, a module global) is kept
            # aside while the memory app builds its own.
            redis_app = await project_app(workdir, REDIS_URL=redis_url)
            await drive(redis_app, "/api/hello/cached", 10)
            redis_cache = get_cache()
            memory_app = await project_app(workdir)
            await drive(memory_app, "/api/hello/cached", 10)
            memory_cache = get_cache()
            etag = await _etag(memory_app)
            paths = {
                "hello": (memory_app, "/api/hello/hello", None, memory_cache),
                "cached-memory": (memory_app, "/api/hello/cached", None, memory_cache),
                "cached-memory-304": (
                    memory_app,
                    "/api/hello/cached",
                    [(b"if-none-match", etag)],
                    memory_cache,
                ),
                "cached-redis": (redis_app, "/api/hello/cached", None, redis_cache),
            }
            results: dict[str, list[float]] = {name: [] for name in paths}
            from tempest.cache import project

            for app, path, headers, cache in paths.values():  # warm-up
                project._cache = cache
                await drive(app, path, 300, headers)
            for _ in range(rounds):
                for name, (app, path, headers, cache) in paths.items():
                    project._cache = cache
                    results[name].append(await drive(app, path, requests, headers))
            await redis_cache.aclose()
        finally:
            if server is not None:
                server.kill()
                server.wait()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, value in medians.items():
        rounds_text = ", ".join(f"{v:,.0f}" for v in results[name])
        print(f"{name:18} median {value:9,.0f} req/s  (rounds: {rounds_text})")
    for name in ("cached-memory", "cached-memory-304", "cached-redis"):
        print(f"ratio {name} / hello: {medians[name] / medians['hello']:.3f}")
    print("target: cached-memory / hello >= 0.8")
    added = (1 / medians["cached-redis"] - 1 / medians["cached-memory"]) * 1e6
    print(f"added by Redis on a hit: {added:.0f} us per request")


async def _etag(app: Any) -> bytes:
    found: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            found.extend(value for name, value in message["headers"] if name == b"etag")

    path = "/api/hello/cached"
    await app({**SCOPE, "path": path, "raw_path": path.encode()}, receive, send)
    return found[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--redis-url", default=None, help="default: a redis-server of its own")
    options = parser.parse_args()
    asyncio.run(main(options.requests, options.rounds, options.redis_url))
