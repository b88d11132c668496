"""One trace across processes: a served project, ``manage.py worker`` on RabbitMQ, OTLP/HTTP.

The project (TRACING_ENABLED on) exports to a receiver this test runs on loopback
(tests/otlp_receiver.py). A request runs SQL on PostgreSQL and kicks a task; the worker
runs the task, which runs SQL and calls an upstream HTTP server on loopback. The
receiver must see one trace id on all of it, and the upstream the same in ``traceparent``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, http, manage, serve_project, stop_group, tempest
from tests.otlp_receiver import Receiver, Span, otlp_receiver
from tests.services import delete_task_queue, scratch_database

pytestmark = pytest.mark.e2e

ROUTERS = """
from fastapi import APIRouter
from opentelemetry import trace
from sqlalchemy import text

from tempest.db.session import work_session

from orders.tasks import call_upstream

router = APIRouter()


@router.post("/checkout")
async def checkout(upstream: str) -> dict[str, str]:
    async with work_session() as session:
        await session.execute(text("SELECT 41"))
    await call_upstream.kiq(upstream)
    context = trace.get_current_span().get_span_context()
    return {"trace_id": format(context.trace_id, "032x")}
"""

TASKS = """
import logging

from sqlalchemy import text

from tempest.db.session import work_session
from tempest.tasks import task
from tempest.utils.http_client import get_http_client


@task
async def call_upstream(upstream: str) -> None:
    async with work_session() as session:
        await session.execute(text("SELECT 42"))
    response = await get_http_client().get(upstream)
    response.raise_for_status()
    logging.getLogger("orders.tasks").info("upstream called")
"""


@dataclass
class Setup:
    base: str
    receiver: Receiver
    upstream: str
    traceparents: list[str]
    worker_log: Path


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on loopback that records the ``traceparent`` of each request."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("traceparent", ""))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ping", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, upstream: tuple[str, list[str]]
) -> Iterator[Setup]:
    """The served project and one worker, both exporting to the loopback receiver."""
    amqp = service_url("TEMPEST_TEST_AMQP_URL")
    server_url = service_url("TEMPEST_TEST_DATABASE_URL")
    root = tmp_path_factory.mktemp("tracing")
    assert tempest(root, "startproject", "shop").returncode == 0
    project = root / "shop"
    created = manage(project, "startapp", "orders")
    assert created.returncode == 0, created.stderr
    (project / "orders" / "routers.py").write_text(ROUTERS)
    (project / "orders" / "tasks.py").write_text(TASKS)
    queue = f"tempest-tracing-{uuid.uuid4().hex[:8]}"
    database = f"tempest_tracing_{uuid.uuid4().hex[:8]}"
    with otlp_receiver() as receiver, scratch_database(server_url, database) as db_url:
        env = {
            "DATABASE_URL": db_url,
            "TASKIQ_BROKER_URL": amqp,
            "TASKIQ_QUEUE_NAME": queue,
            "TRACING_ENABLED": "true",
            "TRACING_OTLP_ENDPOINT": receiver.url,
            "TRACING_SERVICE_NAME": "shop-e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within 0.1 s, not 5 s
        }
        worker_log = root / "worker.log"
        with worker_log.open("w") as output:
            worker = subprocess.Popen(
                [PYTHON, "manage.py", "worker", "--workers", "1", "--grace-period", "2"],
                cwd=project,
                env=clean_env(**env, LOG_JSON="true"),
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        try:
            with serve_project(project, "serve", "--workers", "1", env=env) as (base, _):
                yield Setup(base, receiver, upstream[0], upstream[1], worker_log)
        finally:
            stop_group(worker)
            asyncio.run(delete_task_queue(amqp, queue))


def _checkout(setup: Setup, headers: dict[str, str] | None = None) -> str:
    import urllib.request

    request = urllib.request.Request(
        f"{setup.base}/api/orders/checkout?upstream={setup.upstream}",
        method="POST",
        headers=headers or {},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return str(json.loads(response.read())["trace_id"])


def _in_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [span for span in spans if span.trace_id == trace_id]


def _complete(trace_id: str) -> Any:
    def check(spans: list[Span]) -> bool:
        names = {span.name for span in _in_trace(spans, trace_id)}
        return {"POST /api/orders/checkout", "run orders.call_upstream", "GET"} <= names

    return check


def test_one_trace_covers_request_sql_task_and_outgoing_http(traced: Setup) -> None:
    trace_id = _checkout(traced)
    spans = _in_trace(traced.receiver.wait_for(_complete(trace_id)), trace_id)
    by_name = {span.name: span for span in spans}
    request = by_name["POST /api/orders/checkout"]
    assert request.parent_span_id == ""  # the root: no traceparent came in
    assert request.attributes["http.route"] == "/api/orders/checkout"
    send, run = by_name["send orders.call_upstream"], by_name["run orders.call_upstream"]
    assert send.service == request.service == "shop-e2e"
    assert run.parent_span_id == send.span_id  # the worker continued the kick's context
    statements = {span.attributes.get("db.statement"): span for span in spans}
    # SQL in the request's span tree and in the task's, each under its own parent.
    assert statements["SELECT 41"].parent_span_id == request.span_id
    assert statements["SELECT 42"].parent_span_id == run.span_id
    outgoing = by_name["GET"]
    assert outgoing.parent_span_id == run.span_id
    # The upstream got the trace: traceparent = 00-<trace id>-<the client span>-<flags>.
    sent = [value.rpartition("-")[0] for value in traced.traceparents]
    assert f"00-{trace_id}-{outgoing.span_id}" in sent


def test_the_tasks_log_lines_carry_its_trace(traced: Setup) -> None:
    trace_id = _checkout(traced)
    spans = _in_trace(traced.receiver.wait_for(_complete(trace_id)), trace_id)
    run = next(span for span in spans if span.name == "run orders.call_upstream")
    lines = [
        json.loads(line)
        for line in traced.worker_log.read_text().splitlines()
        if line.startswith("{") and trace_id in line
    ]
    logged = [line for line in lines if line.get("message") == "upstream called"]
    assert logged, traced.worker_log.read_text()[-2000:]
    assert logged[0]["trace_id"] == trace_id
    assert logged[0]["span_id"] == run.span_id


def test_an_incoming_traceparent_is_continued(traced: Setup) -> None:
    trace_id = uuid.uuid4().hex
    parent = uuid.uuid4().hex[:16]
    answered = _checkout(traced, {"traceparent": f"00-{trace_id}-{parent}-01"})
    assert answered == trace_id
    spans = traced.receiver.wait_for(_complete(trace_id))
    request = next(
        s for s in spans if s.name == "POST /api/orders/checkout" and s.trace_id == trace_id
    )
    assert request.parent_span_id == parent


def test_health_routes_are_not_traced_nor_what_they_run(traced: Setup) -> None:
    for path in ("/health/liveness", "/health/readiness"):
        status, _ = http("GET", f"{traced.base}{path}")
        assert status == 200
    # A traced request after them: once it arrives, the probes' spans would have too.
    trace_id = _checkout(traced)
    spans = traced.receiver.wait_for(_complete(trace_id))
    assert not [s for s in spans if str(s.attributes.get("url.path", "")).startswith("/health")]
    # Readiness ran SELECT 1 on the database: no orphan SQL span started a trace of its own.
    assert not [s for s in spans if s.parent_span_id == "" and "db.statement" in s.attributes]
