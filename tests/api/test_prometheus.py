"""Prometheus metrics in one process: labels, errors, access, the project's wiring.

The middleware is driven at ASGI level with a registry of its own per test; the project
tests build the app with ``get_asgi_application`` (the default registry, read as deltas).
Across workers and with a real Prometheus: tests/api/test_prometheus_scrape.py.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry
from pydantic import ValidationError
from starlette.staticfiles import StaticFiles

from tempest.api.prometheus import (
    PrometheusMiddleware,
    make_prometheus_registry,
    make_prometheus_router,
)
from tempest.api.prometheus.collectors import SystemCollector
from tempest.api.prometheus.middleware import UNMATCHED_ROUTE
from tempest.api.prometheus.project import task_metrics_middleware
from tempest.api.prometheus.registry import reap_dead_processes
from tempest.apps import apps
from tempest.conf import MetricsSettings, Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database

pytestmark = [pytest.mark.usefixtures("restore_root_logging"), pytest.mark.anyio]

Build = Callable[..., Any]


def measured_app(registry: CollectorRegistry, tmp_path: Path | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/api/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    @app.post("/api/upload")
    async def upload(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled, on purpose")

    sub = FastAPI()

    @sub.get("/items/{name}")
    async def item(name: str) -> dict[str, str]:
        return {"name": name}

    app.mount("/v2", sub)
    if tmp_path is not None:
        (tmp_path / "app.css").write_text("body {}")
        app.mount("/static", StaticFiles(directory=tmp_path))
    app.add_middleware(PrometheusMiddleware, registry=registry, namespace="t")
    return app


async def call(app: Any, path: str, method: str = "GET", headers: Any = ()) -> int:
    """One request straight through the ASGI app; its status (500 when it raises)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
    }
    status = [500]
    received = [False]

    async def receive() -> dict[str, Any]:
        if received[0]:  # a response listening for the disconnect waits until it is done
            await asyncio.Event().wait()
        received[0] = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    try:
        await app(scope, receive, send)
    except RuntimeError:
        return 500
    return status[0]


def series(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name`` by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == name
    }


async def test_ten_thousand_ids_are_one_series() -> None:
    registry = CollectorRegistry()
    app = measured_app(registry)
    for order_id in range(10_000):
        await call(app, f"/api/orders/{order_id}")
    found = series(registry, "t_http_requests_total")
    assert found == {
        (("method", "GET"), ("route", "/api/orders/{order_id}"), ("status", "200")): 10_000.0
    }
    assert len(series(registry, "t_http_request_duration_seconds_count")) == 1


async def test_unmatched_paths_fall_into_one_series() -> None:
    registry = CollectorRegistry()
    app = measured_app(registry)
    for index in range(500):
        assert await call(app, f"/no/such/{uuid.uuid4().hex}/{index}") == 404
    found = series(registry, "t_http_requests_total")
    assert found == {(("method", "GET"), ("route", UNMATCHED_ROUTE), ("status", "404")): 500.0}


async def test_an_unhandled_exception_counts_as_a_500() -> None:
    registry = CollectorRegistry()
    app = measured_app(registry)
    for _ in range(3):
        assert await call(app, "/boom") == 500
    assert (
        registry.get_sample_value(
            "t_http_requests_total", {"method": "GET", "route": "/boom", "status": "500"}
        )
        == 3
    )
    assert registry.get_sample_value("t_http_requests_in_progress", {"method": "GET"}) == 0


async def test_mounted_apps_and_static_files_get_their_prefix(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    app = measured_app(registry, tmp_path)
    assert await call(app, "/v2/items/a") == 200
    assert await call(app, "/v2/items/b") == 200
    assert await call(app, "/static/app.css") == 200
    assert await call(app, "/static/missing.css") == 404
    assert await call(app, "/v2/nothing/here") == 404
    routes = {dict(labels)["route"] for labels in series(registry, "t_http_requests_total")}
    assert routes == {"/v2/items/{name}", "/static/{path}", "/v2/{path}"}


async def test_method_not_allowed_keeps_the_template_and_odd_methods_are_other() -> None:
    registry = CollectorRegistry()
    app = measured_app(registry)
    assert await call(app, "/api/orders/1", method="DELETE") == 405
    assert await call(app, "/api/orders/1", method="BREW") in {400, 405}
    labels = {
        (dict(key)["method"], dict(key)["route"])
        for key in series(registry, "t_http_requests_total")
    }
    assert labels == {("DELETE", "/api/orders/{order_id}"), ("OTHER", "/api/orders/{order_id}")}


JSON = {"content-type": "application/json"}


async def test_request_sizes_from_content_length_and_from_a_chunked_body() -> None:
    registry = CollectorRegistry()
    app = measured_app(registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        sized = b'{"a": "' + b"x" * 200 + b'"}'
        response = await client.post("/api/upload", content=sized, headers=JSON)
        assert response.status_code == 200

        async def chunks() -> Any:
            yield b'{"b": "'
            yield b"y" * 5000
            yield b'"}'

        response = await client.post("/api/upload", content=chunks(), headers=JSON)
        assert response.status_code == 200
    labels = {"method": "POST", "route": "/api/upload"}
    assert registry.get_sample_value("t_http_request_size_bytes_count", labels) == 2
    total = registry.get_sample_value("t_http_request_size_bytes_sum", labels)
    assert total == len(sized) + 5009


async def test_the_in_flight_gauge_counts_requests_being_answered() -> None:
    registry = CollectorRegistry()
    app = FastAPI()
    seen: list[float | None] = []

    @app.get("/slow")
    async def slow() -> None:
        seen.append(registry.get_sample_value("t_http_requests_in_progress", {"method": "GET"}))
        await asyncio.sleep(0.05)

    app.add_middleware(PrometheusMiddleware, registry=registry, namespace="t")
    await asyncio.gather(*(call(app, "/slow") for _ in range(5)))
    assert max(value or 0 for value in seen) == 5
    assert registry.get_sample_value("t_http_requests_in_progress", {"method": "GET"}) == 0


async def test_each_new_registry_gets_its_own_families() -> None:
    # Registries made and dropped one after another often get the same id(): families
    # must follow the registry object, never its id.
    for _ in range(30):
        registry = CollectorRegistry()
        app = FastAPI()

        @app.get("/one")
        async def one() -> None:
            return None

        app.add_middleware(PrometheusMiddleware, registry=registry, namespace="t")
        await call(app, "/one")
        labels = {"method": "GET", "route": "/one", "status": "200"}
        assert registry.get_sample_value("t_http_requests_total", labels) == 1
        del registry, app
        gc.collect()


def scrape_app(**options: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(make_prometheus_router(make_prometheus_registry(), **options))
    return app


async def scrape(app: FastAPI, client: str = "127.0.0.1", **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(client, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get("/metrics", headers=headers)


async def test_a_scrape_from_loopback_is_served() -> None:
    response = await scrape(scrape_app())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in response.text


async def test_a_scrape_from_another_network_is_forbidden() -> None:
    from tempest.api import register_exception_handlers

    app = scrape_app()
    register_exception_handlers(app)
    response = await scrape(app, client="203.0.113.9")
    assert response.status_code == 403
    assert response.json()["code"] == "METRICS_FORBIDDEN"
    assert (
        await scrape(scrape_app(allowed_networks=["203.0.113.0/24"]), "203.0.113.9")
    ).status_code == 200


@pytest.mark.parametrize("sent", [None, "Bearer wrong", "Basic c2VjcmV0", "Bearer s3cret "])
async def test_a_scrape_without_the_token_is_refused(sent: str | None) -> None:
    from tempest.api import register_exception_handlers

    app = scrape_app(token="s3cret")
    register_exception_handlers(app)
    headers = {} if sent is None else {"authorization": sent}
    response = await scrape(app, **headers)  # loopback does not help once a token is set
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "METRICS_TOKEN_REQUIRED"
    ok = await scrape(app, client="198.51.100.7", authorization="Bearer s3cret")
    assert ok.status_code == 200


def test_bad_metrics_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="METRICS_PATH"):
        MetricsSettings(METRICS_PATH="metrics")
    with pytest.raises(ValidationError, match="not a network"):
        MetricsSettings(METRICS_ALLOWED_NETWORKS=["loopback"])
    assert MetricsSettings(METRICS_PATH="/internal/metrics/").METRICS_PATH == "/internal/metrics"


def test_the_system_collector_has_no_gpu_series_without_a_gpu(tmp_path: Path) -> None:
    names = {
        sample.name
        for family in SystemCollector([str(tmp_path), str(tmp_path / "gone")]).collect()
        for sample in family.samples
    }
    assert {"tempest_system_cpu_percent", "tempest_system_memory_used_bytes"} <= names
    assert "tempest_system_disk_used_bytes" in names  # the missing path is skipped
    if not Path("/dev/nvidiactl").exists():
        assert not any("gpu" in name for name in names)


def test_dead_processes_lose_their_live_gauges_but_keep_their_counters(tmp_path: Path) -> None:
    finished = subprocess.run(["true"], check=True)
    assert finished.returncode == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    for name in (f"gauge_livesum_{dead.pid}.db", f"counter_{dead.pid}.db"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    assert reap_dead_processes(str(tmp_path)) == [dead.pid]
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([f"counter_{dead.pid}.db", f"gauge_livesum_{os.getpid()}.db"])


async def test_tasks_are_counted_kicked_done_and_failed() -> None:
    from taskiq import InMemoryBroker

    broker = InMemoryBroker(await_inplace=True)
    broker.add_middlewares(task_metrics_middleware(MetricsSettings(METRICS_ENABLED=True)))

    @broker.task(task_name="metrics_ok")
    async def ok() -> int:
        return 1

    @broker.task(task_name="metrics_bad")
    async def bad() -> int:
        raise ValueError("failed on purpose")

    def value(name: str, task: str) -> float:
        return REGISTRY.get_sample_value(f"tempest_tasks_{name}_total", {"task": task}) or 0.0

    before = {
        (n, t): value(n, t)
        for n in ("kicked", "done", "failed")
        for t in ("metrics_ok", "metrics_bad")
    }
    await broker.startup()
    try:
        for _ in range(3):
            await ok.kiq()
        await bad.kiq()
    finally:
        await broker.shutdown()
    after = {key: value(*key) - before[key] for key in before}
    assert after == {
        ("kicked", "metrics_ok"): 3, ("kicked", "metrics_bad"): 1,
        ("done", "metrics_ok"): 3, ("done", "metrics_bad"): 0,
        ("failed", "metrics_ok"): 0, ("failed", "metrics_bad"): 1,
    }  # fmt: skip
    assert task_metrics_middleware(MetricsSettings()) is None


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Build]:
    """Build the project's app from an ad-hoc app package and settings values."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def make(routers: str, **values: Any) -> Any:
        name = f"web_{uuid.uuid4().hex[:8]}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "routers.py").write_text(textwrap.dedent(routers))
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(INSTALLED_APPS=[name], **values))  # type: ignore[attr-defined]
        return name, get_asgi_application()

    yield make
    from tempest.cache import flight

    flight.lookup_observer = None
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


ROUTERS = """
from fastapi import APIRouter
from tempest.cache import cached_route

router = APIRouter()


@router.get("/orders/{order_id}")
async def order(order_id: int) -> dict[str, int]:
    return {"id": order_id}


@router.get("/menu")
@cached_route(ttl=60)
async def menu() -> dict[str, str]:
    return {"soup": "of the day"}
"""


def test_metrics_off_installs_nothing(build: Build) -> None:
    _name, app = build(ROUTERS)
    assert not any(m.cls is PrometheusMiddleware for m in app.user_middleware)
    assert "/metrics" not in {getattr(route, "path", "") for route in app.routes}


async def test_the_project_app_counts_and_serves_metrics(build: Build) -> None:
    name, app = build(ROUTERS, METRICS_ENABLED=True, METRICS_DISK_PATHS=["/"])
    assert sum(m.cls is PrometheusMiddleware for m in app.user_middleware) == 1
    route = f"/api/{name}/orders/{{order_id}}"
    labels = {"method": "GET", "route": route, "status": "200"}
    lookups = "tempest_cache_lookups_total"
    before = {r: REGISTRY.get_sample_value(lookups, {"result": r}) or 0 for r in ("hit", "miss")}
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 999))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        for order_id in range(20):
            assert (await client.get(f"/api/{name}/orders/{order_id}")).status_code == 200
        for _ in range(3):
            assert (await client.get(f"/api/{name}/menu")).status_code == 200
        first = await client.get("/metrics")
        second = await client.get("/metrics")
    assert first.status_code == second.status_code == 200
    assert f'tempest_http_requests_total{{method="GET",route="{route}",status="200"}} 20.0' in (
        second.text
    )
    assert "/metrics" not in second.text  # the scrape route is not counted
    assert "tempest_system_cpu_percent" in second.text
    assert 'tempest_system_disk_used_bytes{path="/"}' in second.text
    assert REGISTRY.get_sample_value("tempest_http_requests_total", labels) == 20
    hits = (REGISTRY.get_sample_value(lookups, {"result": "hit"}) or 0) - before["hit"]
    misses = (REGISTRY.get_sample_value(lookups, {"result": "miss"}) or 0) - before["miss"]
    assert (hits, misses) == (2, 1)
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is needed: apt-get install prometheus (.ci/run)")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=second.text, capture_output=True, text=True
    )
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr


def test_serve_prepares_one_directory_for_its_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tempest.api.prometheus.project import serve_multiprocess_dir

    # serve sets the variable for its workers: restored (absent) after the test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    on = MetricsSettings(METRICS_ENABLED=True)
    assert serve_multiprocess_dir(MetricsSettings(), 4) == (None, False)  # metrics off
    assert serve_multiprocess_dir(on, 1) == (None, False)  # one process: plain registry
    directory, temporary = serve_multiprocess_dir(on, 2)
    try:
        assert temporary and directory and os.path.isdir(directory)
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == directory
    finally:
        shutil.rmtree(str(directory), ignore_errors=True)
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    kept = tmp_path / "metrics"
    kept.mkdir()
    (kept / "counter_123.db").write_bytes(b"old run")
    (kept / "notes.txt").write_text("not ours")
    chosen = MetricsSettings(METRICS_ENABLED=True, METRICS_MULTIPROC_DIR=str(kept))
    assert serve_multiprocess_dir(chosen, 1) == (str(kept), False)
    assert sorted(path.name for path in kept.iterdir()) == ["notes.txt"]  # last run's files
