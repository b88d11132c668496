"""GracefulShutdownMiddleware in process: bad arguments, the drain's answers, the SIGTERM hook.

The whole sequence on a real ``manage.py serve`` (uvicorn's own shutdown after the
drain) is in tests/e2e/test_graceful_shutdown_served.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tempest.api import GracefulShutdownMiddleware, make_health_router, register_exception_handlers


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"drain_seconds": -1}, "drain_seconds must be >= 0"),
        ({"retry_after": -5}, "retry_after must be a non-negative integer"),
        ({"retry_after": True}, "retry_after must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GracefulShutdownMiddleware(FastAPI(), **options)


def build(**options: Any) -> tuple[FastAPI, GracefulShutdownMiddleware, asyncio.Event]:
    app = FastAPI()
    register_exception_handlers(app)
    release = asyncio.Event()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await release.wait()
        return {"done": "yes"}

    @app.get("/fast")
    async def fast() -> dict[str, str]:
        return {"fast": "yes"}

    app.include_router(make_health_router())
    middleware = GracefulShutdownMiddleware(app, handle_signals=False, **options)
    return app, middleware, release


def client(middleware: GracefulShutdownMiddleware) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=middleware)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def test_draining_answers_503_and_lets_requests_in_flight_finish() -> None:
    async def scenario() -> None:
        _, middleware, release = build(retry_after=7)
        async with client(middleware) as http:
            assert (await http.get("/fast")).status_code == 200
            assert (await http.get("/health/readiness")).status_code == 200
            in_flight = asyncio.create_task(http.get("/slow"))
            await asyncio.sleep(0.05)
            middleware.start_draining()

            refused = await http.get("/fast")
            assert refused.status_code == 503
            assert refused.headers["connection"] == "close"
            assert refused.headers["retry-after"] == "7"
            assert refused.headers["cache-control"] == "no-store"
            assert refused.json() == {
                "detail": "The server is shutting down; retry the request.",
                "code": "SERVICE_SHUTTING_DOWN",
                "details": {"retry_after": 7},
            }
            assert (await http.head("/fast")).content == b""

            ready = await http.get("/health/readiness")
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "checks": {"shutdown": "failing"}}
            assert ready.headers["connection"] == "close"
            assert (await http.get("/health/liveness")).status_code == 200

            release.set()
            done = await in_flight
            assert (done.status_code, done.json()) == (200, {"done": "yes"})

    asyncio.run(scenario())


def test_from_settings_reads_the_drain_and_skips_it_under_the_reloader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Settings:
        GRACEFUL_SHUTDOWN_DRAIN_SECONDS = 12.5

    monkeypatch.delenv("TEMPEST_RUNSERVER_APPLICATION", raising=False)
    assert GracefulShutdownMiddleware.from_settings(FastAPI(), Settings()).drain_seconds == 12.5
    monkeypatch.setenv("TEMPEST_RUNSERVER_APPLICATION", "shop.asgi:application")
    assert GracefulShutdownMiddleware.from_settings(FastAPI(), Settings()).drain_seconds == 0.0


@pytest.fixture
def sigterm_recorder() -> Iterator[list[float]]:
    """Stand in for uvicorn's SIGTERM handler: record when the signal reaches it."""
    calls: list[float] = []

    def uvicorn_handler(signum: int, frame: FrameType | None) -> None:
        calls.append(time.monotonic())

    original = signal.signal(signal.SIGTERM, uvicorn_handler)
    try:
        yield calls
    finally:
        signal.signal(signal.SIGTERM, original)


async def _start_lifespan(app: Any) -> tuple[asyncio.Queue[dict[str, Any]], asyncio.Task[None]]:
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    return inbox, task


def test_sigterm_starts_the_drain_and_reaches_uvicorn_after_it(
    sigterm_recorder: list[float],
) -> None:
    async def scenario() -> None:
        app = FastAPI()
        middleware = GracefulShutdownMiddleware(app, drain_seconds=0.3)
        inbox, lifespan = await _start_lifespan(middleware)
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert middleware.draining
        assert sigterm_recorder == []  # uvicorn still listens during the drain
        await asyncio.sleep(0.4)
        assert len(sigterm_recorder) == 1
        assert sigterm_recorder[0] - sent >= 0.3
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan

    asyncio.run(scenario())


def test_a_second_sigterm_ends_the_drain_at_once(sigterm_recorder: list[float]) -> None:
    async def scenario() -> None:
        middleware = GracefulShutdownMiddleware(FastAPI(), drain_seconds=30)
        inbox, lifespan = await _start_lifespan(middleware)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert middleware.draining and sigterm_recorder == []
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert len(sigterm_recorder) == 1
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan

    asyncio.run(scenario())


def test_without_handle_signals_sigterm_is_left_alone(sigterm_recorder: list[float]) -> None:
    async def scenario() -> None:
        middleware = GracefulShutdownMiddleware(FastAPI(), handle_signals=False)
        inbox, lifespan = await _start_lifespan(middleware)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert not middleware.draining and len(sigterm_recorder) == 1
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan

    asyncio.run(scenario())


def test_the_refusal_is_json_even_for_unknown_paths() -> None:
    async def scenario() -> None:
        _, middleware, _ = build()
        middleware.start_draining()
        async with client(middleware) as http:
            response = await http.post("/nowhere", content=b"x")
        assert response.status_code == 503
        assert json.loads(response.content)["code"] == "SERVICE_SHUTTING_DOWN"

    asyncio.run(scenario())
