"""Tracing inside one process, run by tests/core/test_tracing.py as a process of its own.

Tracing set-up is per process and cannot be undone (OpenTelemetry's global tracer
provider is set once), so the in-process checks run here rather than in the test run:
``python -m tests.core.tracing_probe WORKDIR RESULT.json``. It builds a project app with
TRACING_ENABLED on and an OTLP endpoint nobody listens on, serves requests through
``httpx.ASGITransport`` with the lifespan running, and writes what it saw as JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

ROUTERS = """
import logging

from fastapi import APIRouter
from sqlalchemy import text

from tempest.db.session import work_session

router = APIRouter()
log = logging.getLogger("probe.route")


@router.get("/hello")
async def hello() -> dict[str, str]:
    async with work_session() as session:
        await session.execute(text("SELECT 1"))
    log.info("hello served")
    return {"hello": "world"}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("boom")


@router.get("/two")
async def two() -> dict[str, int]:
    async with work_session() as session:
        await session.execute(text("SELECT 1"))
        await session.execute(text("SELECT 2"))
    return {"statements": 2}
"""


class Records(logging.Handler):
    """Keeps the records logged while the probe runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def probe(workdir: Path, unreachable: str) -> dict[str, Any]:
    import httpx
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tempest.api.middleware.hosts import allow_test_hosts
    from tempest.conf import Settings, settings
    from tempest.core.asgi import get_asgi_application
    from tempest.core.tracing import setup_tracing
    from tempest.core.tracing_sql import instrument_every_engine

    allow_test_hosts("test")
    name = f"probe_{uuid.uuid4().hex[:8]}"
    (workdir / name).mkdir()
    (workdir / name / "__init__.py").write_text("")
    (workdir / name / "routers.py").write_text(ROUTERS)
    sys.path.insert(0, str(workdir))
    database = os.environ.get("TEMPEST_TEST_DATABASE_URL") or (
        f"sqlite+aiosqlite:///{workdir / 'db.sqlite3'}"
    )
    amqp = os.environ.get("TEMPEST_TEST_AMQP_URL")
    values: dict[str, Any] = {
        "INSTALLED_APPS": [name],
        "DATABASE_URL": database,
        "RABBITMQ_URL": amqp or "amqp://guest:guest@127.0.0.1:5672/",
        "TRACING_ENABLED": True,
        "TRACING_OTLP_ENDPOINT": unreachable,
        "TRACING_OTLP_TIMEOUT": 0.5,
        "TRACING_SERVICE_NAME": "probe",
    }
    settings.configure(Settings(**values))  # type: ignore[attr-defined]
    app = get_asgi_application()
    provider = trace.get_tracer_provider()

    class Counting(SpanProcessor):
        started = 0
        ended = 0
        open: dict[int, str] = {}

        def on_start(self, span: Any, parent_context: Any = None) -> None:
            Counting.started += 1
            Counting.open[span.context.span_id] = span.name

        def on_end(self, span: Any) -> None:
            Counting.ended += 1
            Counting.open.pop(span.context.span_id, None)

    memory = InMemorySpanExporter()
    provider.add_span_processor(Counting())  # type: ignore[attr-defined]
    provider.add_span_processor(SimpleSpanProcessor(memory))  # type: ignore[attr-defined]
    records = Records()
    logging.getLogger().addHandler(records)
    result: dict[str, Any] = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        statuses = [(await client.get(f"/api/{name}/hello")).status_code for _ in range(1000)]
        result["statuses"] = sorted(set(statuses))
        result["started"], result["ended"] = Counting.started, Counting.ended
        result["server_spans"] = len(
            [s for s in memory.get_finished_spans() if s.name == f"GET /api/{name}/hello"]
        )

        before = Counting.started
        for path in ("/health/liveness", "/health/readiness") * 5:
            assert (await client.get(path)).status_code == 200
        result["health_spans"] = Counting.started - before

        # Set up again, twice: each statement still makes exactly one span.
        setup_tracing()
        setup_tracing(app)
        instrument_every_engine()
        memory.clear()
        assert (await client.get(f"/api/{name}/two")).status_code == 200
        result["sql_spans_for_two_statements"] = len(
            [s for s in memory.get_finished_spans() if (s.attributes or {}).get("db.statement")]
        )

        # Log correlation: a line logged while serving carries the request's trace.
        trace_id = uuid.uuid4().hex
        seen = len(records.records)
        header = {"traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
        assert (await client.get(f"/api/{name}/hello", headers=header)).status_code == 200
        served = [r for r in records.records[seen:] if r.name == "probe.route"]
        result["log_trace_ids"] = [getattr(r, "trace_id", None) for r in served]
        result["log_span_ids_valid"] = [len(getattr(r, "span_id", "")) == 16 for r in served]
        result["expected_trace_id"] = trace_id
        outside = logging.getLogRecordFactory()("probe", logging.INFO, "", 0, "x", None, None)
        result["trace_id_outside_a_span"] = getattr(outside, "trace_id", None)

        # An unhandled exception: the 500 Starlette sends, and the error, on the span.
        memory.clear()
        failing = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=failing, base_url="http://test") as raw:
            assert (await raw.get(f"/api/{name}/boom")).status_code == 500
        span = next(s for s in memory.get_finished_spans() if s.name.endswith("/boom"))
        attributes = span.attributes or {}
        result["boom"] = {
            "status": attributes.get("http.response.status_code"),
            "error": attributes.get("error.type"),
            "code": span.status.status_code.name,
        }

        if amqp:
            result["queue"] = await _queue_roundtrip(amqp)

    # FastAPI's own request spans with its operation spans, and the ASGI sub-spans.
    settings.configure(  # type: ignore[attr-defined]
        Settings(**values, TRACING_OPERATION_SPANS=True, TRACING_ASGI_SUBSPANS=True)
    )
    detailed = get_asgi_application()
    transport = httpx.ASGITransport(app=detailed)
    async with (
        detailed.router.lifespan_context(detailed),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        memory.clear()
        assert (await client.get(f"/api/{name}/hello")).status_code == 200
        finished = memory.get_finished_spans()
        result["detailed_names"] = sorted({s.name for s in finished})
        result["detailed_traces"] = len({s.context.trace_id for s in finished})
        memory.clear()
        assert (await client.get("/health/readiness")).status_code == 200
        result["detailed_health_spans"] = len(memory.get_finished_spans())
    provider.force_flush()  # type: ignore[attr-defined]
    warnings = [
        (r.name, r.getMessage())
        for r in records.records
        if r.levelno >= logging.WARNING
        and (r.name.startswith("opentelemetry") or r.name == "tempest.tracing")
    ]
    result["export_warnings"] = warnings
    result["final_open"] = sorted(Counting.open.values())
    return result


async def _queue_roundtrip(amqp: str) -> dict[str, str]:
    """A message published under a span is handled in the same trace (real RabbitMQ)."""
    from faststream.rabbit import RabbitBroker, RabbitQueue
    from opentelemetry import trace

    from tempest.queue.project import build_broker
    from tempest.queue.tracing import broker_middlewares

    queue = f"tempest-probe-{uuid.uuid4().hex[:8]}"
    handled: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    consumer = RabbitBroker(amqp, middlewares=broker_middlewares())

    @consumer.subscriber(RabbitQueue(queue, auto_delete=True))
    async def handle(body: str) -> None:
        context = trace.get_current_span().get_span_context()
        handled.set_result(format(context.trace_id, "032x"))

    publisher = build_broker()
    await consumer.start()
    await publisher.connect()
    try:
        with trace.get_tracer("probe").start_as_current_span("publishing") as span:
            sent = format(span.get_span_context().trace_id, "032x")
            await publisher.publish("hello", queue=queue)
        return {"sent": sent, "handled": await asyncio.wait_for(handled, 20)}
    finally:
        await publisher.stop()
        await consumer.stop()


def main() -> None:
    workdir, output, unreachable = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    result = asyncio.run(probe(workdir, unreachable))
    output.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
