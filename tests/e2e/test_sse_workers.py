"""Server-Sent Events across processes: ``serve --workers 2``, ``worker``, Redis, Chromium.

One generated project whose ``live`` app streams the channel ``news`` (each stream first
says which server process serves it) and kicks a task that publishes to it; two server
processes and one task worker share the test Redis. A headless Chromium page listens with
``EventSource``. The last test sends SIGTERM to the server with streams open.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, manage, serve_project, stop_group, tempest

pytestmark = pytest.mark.e2e

CLIENTS = 200

ROUTERS = '''
"""Live news: an SSE stream of the channel "news", and a route that kicks its task."""

import os

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from tempest.sse import EventStream, EventStreamResponse, publish, sse_response

from live.tasks import announce

router = APIRouter(tags=["live"])

PAGE = """<!doctype html><html><body><ul id="news"></ul><script>
const source = new EventSource("/api/live/stream");
source.addEventListener("news", (event) => {
  const item = document.createElement("li");
  item.textContent = JSON.parse(event.data).text;
  document.getElementById("news").appendChild(item);
});
source.addEventListener("hello", () => { document.body.dataset.open = "yes"; });
</script></body></html>"""


@router.get("/stream", response_class=EventStreamResponse)
async def stream() -> EventStreamResponse:
    events = EventStream("news", heartbeat_seconds=5, retry=500)
    await events.publish(str(os.getpid()), event="hello")
    return sse_response(events)


@router.post("/announce", status_code=202)
async def announce_news(text: str) -> dict[str, str]:
    await announce.kiq(text)
    return {"queued": text}


@router.get("/pid")
async def pid() -> int:
    return os.getpid()


@router.post("/say", status_code=201)
async def say(text: str) -> dict[str, str]:
    return {"id": await publish("news", {"text": text}, event="news")}


@router.get("/page", response_class=HTMLResponse)
async def page() -> str:
    return PAGE
'''

TASKS = '''
"""The task that publishes news, run by manage.py worker."""

from tempest.sse import publish
from tempest.tasks import task


@task
async def announce(text: str) -> str:
    return await publish("news", {"text": text}, event="news")
'''


@dataclass
class Served:
    base: str
    process: Any
    redis_url: str


@dataclass
class Event:
    event: str = "message"
    data: str = ""
    id: str | None = None


def parse(frames: str) -> list[Event]:
    """The events of a text/event-stream body (comments skipped)."""
    events = []
    for block in frames.split("\n\n"):
        event, lines, seen = Event(), [], False
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "event":
                event.event, seen = value, True
            elif name == "data":
                lines.append(value)
                seen = True
            elif name == "id":
                event.id = value
        if seen:
            event.data = "\n".join(lines)
            events.append(event)
    return events


async def _drop_keys(url: str, *patterns: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        for pattern in patterns:
            keys = [key async for key in client.scan_iter(match=pattern)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The project on ``serve --workers 2`` and ``worker``, sharing the test Redis."""
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    root = tmp_path_factory.mktemp("sse-workers")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = manage(project, "startapp", "--empty", "live")
    assert app.returncode == 0, app.stderr
    (project / "live" / "routers.py").write_text(ROUTERS)
    (project / "live" / "tasks.py").write_text(TASKS)
    queue = f"tempest-sse-{uuid.uuid4().hex[:8]}"
    env = {
        "REDIS_URL": redis_url,
        "TASKIQ_BROKER_URL": redis_url,
        "TASKIQ_QUEUE_NAME": queue,
        "LOG_LEVEL": "WARNING",
    }
    asyncio.run(_drop_keys(redis_url, "tempest:sse:news"))
    log = root / "worker.log"
    with ExitStack() as stack:
        output = stack.enter_context(log.open("wb"))
        worker = subprocess.Popen(
            [PYTHON, "manage.py", "worker", "--workers", "1"],
            cwd=project,
            env=clean_env(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stack.callback(stop_group, worker, 10)
        stack.callback(asyncio.run, _drop_keys(redis_url, "tempest:sse:news", f"{queue}*"))
        base, process = stack.enter_context(
            serve_project(project, "serve", "--workers", "2", env=env)
        )
        _wait_for_both_workers(base)
        yield Served(base, process, redis_url)
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]


def _wait_for_both_workers(base: str, timeout: float = 20) -> None:
    """Liveness answers once one worker is up; wait until the other one serves too."""
    pids: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(pids) < 2:
        assert time.monotonic() < deadline, f"only {pids} answered within {timeout}s"
        with httpx.Client(base_url=base, timeout=5) as http:  # a new connection each time
            pids.add(http.get("/api/live/pid").json())


class Client:
    """One SSE connection: the serving process's pid, then the events as they come."""

    def __init__(self, http: httpx.AsyncClient, last_event_id: str | None = None) -> None:
        self.http = http
        self.headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.text = ""
        self.pid = ""
        self._context: Any = None
        self._chunks: Any = None

    async def open(self) -> Client:
        self._context = self.http.stream("GET", "/api/live/stream", headers=self.headers)
        response = await self._context.__aenter__()
        assert response.status_code == 200
        self._chunks = response.aiter_text()
        hello = await self.until(lambda events: any(e.event == "hello" for e in events))
        self.pid = next(e.data for e in hello if e.event == "hello")
        return self

    async def until(self, done: Any, timeout: float = 20) -> list[Event]:
        async with asyncio.timeout(timeout):
            while not done(parse(self.text)):
                self.text += await anext(self._chunks)
        return parse(self.text)

    async def news(self, count: int) -> list[Event]:
        events = await self.until(lambda got: len([e for e in got if e.event == "news"]) >= count)
        return [e for e in events if e.event == "news"]

    async def close(self) -> None:
        await self._context.__aexit__(None, None, None)


def announce(base: str, text: str) -> None:
    response = httpx.post(f"{base}/api/live/announce", params={"text": text}, timeout=10)
    assert response.status_code == 202, response.text


async def _two_hundred_clients_get_one_task_event(base: str) -> None:
    limits = httpx.Limits(max_connections=CLIENTS + 10)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        clients = await asyncio.gather(*(Client(http).open() for _ in range(CLIENTS)))
        pids = {client.pid for client in clients}
        assert len(pids) == 2, f"the streams landed on {pids}, not on both workers"
        text = f"hello {uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(announce, base, text)
        received = await asyncio.gather(*(client.news(1) for client in clients))
        await asyncio.gather(*(client.close() for client in clients))
    assert all(len(events) == 1 for events in received)
    assert {events[0].data for events in received} == {f'{{"text":"{text}"}}'}
    assert len({events[0].id for events in received}) == 1


def test_200_streams_over_two_workers_all_get_an_event_published_by_a_task(
    served: Served,
) -> None:
    asyncio.run(_two_hundred_clients_get_one_task_event(served.base))


async def _resume_on_the_other_worker(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        first = await Client(http).open()
        await asyncio.to_thread(announce, base, "seen")
        seen = (await first.news(1))[0]
        await first.close()
        missed = [f"missed {n}" for n in range(3)]
        for text in missed:  # one at a time: the task worker keeps their order
            watcher = await Client(http).open()
            await asyncio.to_thread(announce, base, text)
            await watcher.news(1)
            await watcher.close()
        for _ in range(50):  # a new connection until the other worker accepts one
            again = await Client(http, last_event_id=seen.id).open()
            if again.pid != first.pid:
                break
            await again.close()
        else:
            raise AssertionError("no connection reached the other worker")
        resumed = await again.news(3)
        await asyncio.to_thread(announce, base, "live")
        events = await again.news(4)
        await again.close()
    assert [e.data for e in resumed[:3]] == [f'{{"text":"{text}"}}' for text in missed]
    assert events[3].data == '{"text":"live"}' and len(events) == 4
    ids = [e.id for e in events]
    assert seen.id not in ids and len(set(ids)) == 4


def test_a_client_resuming_on_the_other_worker_gets_exactly_what_it_missed(
    served: Served,
) -> None:
    asyncio.run(_resume_on_the_other_worker(served.base))


async def _a_request_publishes_to_both_workers(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        clients = list(await asyncio.gather(*(Client(http).open() for _ in range(20))))
        for _ in range(100):  # more connections until the other worker has accepted one
            if len({client.pid for client in clients}) == 2:
                break
            clients.append(await Client(http).open())
        assert len({client.pid for client in clients}) == 2
        said = await http.post("/api/live/say", params={"text": "from a request"})
        assert said.status_code == 201, said.text
        received = await asyncio.gather(*(client.news(1) for client in clients))
        await asyncio.gather(*(client.close() for client in clients))
    assert {(e[0].id, e[0].data) for e in received} == {
        (said.json()["id"], '{"text":"from a request"}')
    }


def test_an_event_published_by_a_request_reaches_the_streams_of_both_workers(
    served: Served,
) -> None:
    asyncio.run(_a_request_publishes_to_both_workers(served.base))


def test_an_event_source_page_receives_what_a_task_publishes(served: Served, page: Any) -> None:
    page.goto(served.base + "/api/live/page")
    page.wait_for_function("document.body.dataset.open === 'yes'", timeout=10_000)
    announce(served.base, "to the browser")
    page.wait_for_function(
        "[...document.querySelectorAll('#news li')].some(li => li.textContent === 'to the browser')",
        timeout=10_000,
    )


async def _streams_end_on_sigterm(served: Served) -> float:
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as http:
        clients = await asyncio.gather(*(Client(http).open() for _ in range(20)))
        os.killpg(served.process.pid, signal.SIGTERM)
        sent = time.monotonic()

        async def ended(client: Client) -> None:
            async with asyncio.timeout(5):
                async for chunk in client._chunks:
                    client.text += chunk

        await asyncio.gather(*(ended(client) for client in clients))
        took = time.monotonic() - sent
        assert all("the server is shutting down" in client.text for client in clients)
        assert all("retry: 1000" in client.text for client in clients)
    return took


def test_sigterm_ends_the_open_streams_and_the_server_stops(served: Served) -> None:
    took = asyncio.run(_streams_end_on_sigterm(served))
    assert took < 2, f"the streams ended {took:.2f}s after SIGTERM"
    served.process.wait(timeout=5)
