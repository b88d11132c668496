"""Fixtures of the SSE tests: a hub on each backend, an ASGI client that can hang up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tempest.sse import project
from tempest.sse.backends import EventBackend, MemoryEventBackend
from tempest.sse.hub import EventHub
from tests.conftest import service_url


async def _drop_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def hub(request: pytest.FixtureRequest) -> AsyncIterator[EventHub]:
    """This process's hub on the in-process backend, then on Redis (keys of this test)."""
    backend: EventBackend
    prefix = f"tempest:sse-test:{uuid.uuid4().hex[:8]}:"
    url = ""
    if request.param == "memory":
        backend = MemoryEventBackend(history_size=5)
    else:
        from tempest.sse.redis_backend import RedisEventBackend

        url = service_url("TEMPEST_TEST_REDIS_URL")
        backend = RedisEventBackend(url, history_size=5, prefix=prefix)
    made = EventHub(backend, max_queued=8)
    project._hub, project._hub_loop = made, asyncio.get_running_loop()
    try:
        yield made
    finally:
        await made.close()
        project.reset_event_hub()
        if url:
            await _drop_keys(url, prefix)


@dataclass
class Connection:
    """One SSE request driven at the ASGI level: read frames, then hang up."""

    app: Any
    path: str
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    status: int | None = None
    response_headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _gone: asyncio.Event = field(default_factory=asyncio.Event)
    _data: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def open(self) -> Connection:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), *self.headers],
            "client": ("127.0.0.1", 5000),
            "server": ("testserver", 80),
        }
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self._gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = dict(message["headers"])
            elif message["type"] == "http.response.body":
                self.body += message.get("body", b"")
                self._data.set()
                if not message.get("more_body", False):
                    self.ended.set()

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                self.ended.set()

        self.task = asyncio.create_task(run())
        return self

    async def read_until(self, text: str, timeout: float = 5) -> str:
        """Wait until the body holds ``text``; return the body so far."""
        async with asyncio.timeout(timeout):
            while text.encode() not in self.body:
                self._data.clear()
                if self.ended.is_set():
                    raise AssertionError(f"stream ended without {text!r}: {bytes(self.body)!r}")
                await self._data.wait()
        return self.body.decode()

    async def hang_up(self) -> None:
        """Disconnect and wait until the app has finished the request."""
        self._gone.set()
        assert self.task is not None
        async with asyncio.timeout(5):
            await self.task
