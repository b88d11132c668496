"""Debian's Prometheus scrapes ``manage.py serve --workers 2`` with METRICS_ENABLED.

One generated project (one app, ``probe``, whose routes answer with the worker's pid) is
served for the whole module, and one Prometheus (``/usr/bin/prometheus``, a 1 s scrape
interval, its data in a temporary directory) scrapes it. Totals are read with PromQL after
a scrape that started after the last request, and must be exact.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import (
    PYTHON,
    clean_env,
    free_port,
    serve_project,
    stop_group,
    tempest,
    wait_for_http,
)
from tests.services import delete_task_queue

pytestmark = pytest.mark.e2e

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

ROUTERS = """
import os

from fastapi import APIRouter

router = APIRouter()


@router.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"id": item_id, "pid": os.getpid()}


@router.get("/boom")
async def boom() -> dict[str, int]:
    raise RuntimeError("an unhandled error, on purpose")


@router.post("/kick")
async def kick(ok: int, bad: int) -> dict[str, int]:
    from probe.tasks import fail, ping

    for _ in range(ok):
        await ping.kiq()
    for _ in range(bad):
        await fail.kiq()
    return {"kicked": ok + bad}
"""

TASKS = """
from tempest.tasks import task


@task
async def ping() -> int:
    return 1


@task
async def fail() -> None:
    raise ValueError("a failing task, on purpose")
"""


@dataclass
class Served:
    """The served project: its URL, the serve process, its folder and environment."""

    base: str
    process: subprocess.Popen[str]
    project: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The project served by two workers with metrics on, tasks on RabbitMQ."""
    if not (os.path.exists(PROMETHEUS) and os.path.exists(PROMTOOL)):
        pytest.fail("prometheus and promtool are needed: apt-get install prometheus (.ci/run)")
    root = tmp_path_factory.mktemp("prometheus")
    assert tempest(root, "startproject", "shop").returncode == 0
    project = root / "shop"
    (project / "probe").mkdir()
    (project / "probe" / "__init__.py").write_text("")
    (project / "probe" / "routers.py").write_text(ROUTERS)
    (project / "probe" / "tasks.py").write_text(TASKS)
    amqp_url = service_url("TEMPEST_TEST_AMQP_URL")
    queue = f"tempest-metrics-{uuid.uuid4().hex[:8]}"
    env = {
        "INSTALLED_APPS": '["probe"]',
        "METRICS_ENABLED": "true",
        # Shared with `manage.py worker`, so its task runs reach the same scrape.
        "METRICS_MULTIPROC_DIR": str(root / "metrics"),
        "TASKIQ_BROKER_URL": amqp_url,
        "TASKIQ_QUEUE_NAME": queue,
        "LOG_LEVEL": "WARNING",
    }
    try:
        with serve_project(project, "serve", "--workers", "2", env=env) as (base, process):
            yield Served(base, process, project, env)
    finally:
        asyncio.run(delete_task_queue(amqp_url, queue))


@pytest.fixture(scope="module")
def prometheus(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus scraping the served project every second: its base URL."""
    target = served.base.removeprefix("http://")
    folder = tmp_path_factory.mktemp("prometheus-data")
    config = folder / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: tempest\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/-/ready", timeout=30)
        yield base
    finally:
        stop_group(process)


def query(prometheus: str, promql: str) -> float | None:
    """The single value of an instant PromQL query, or None when it has no result."""
    url = f"{prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def scraped_after(prometheus: str, moment: float, timeout: float = 20) -> None:
    """Wait until Prometheus has finished a scrape that started after ``moment``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # timestamp() of a plain selector: when the last scrape started (of an expression
        # such as `up == 1` it would be the query's own time).
        last = query(prometheus, 'timestamp(up{job="tempest"})')
        if last is not None and last > moment + 0.01:
            assert query(prometheus, 'up{job="tempest"}') == 1, "the last scrape failed"
            return
        time.sleep(0.2)
    raise AssertionError(f"no successful scrape after {moment} within {timeout}s")


def total(prometheus: str, promql: str = "sum(tempest_http_requests_total)") -> float:
    return query(prometheus, promql) or 0.0


def get_many(base: str, paths: list[str]) -> list[httpx.Response]:
    """GET every path, 8 at a time, each on a new connection (so both workers accept)."""

    def one(path: str) -> httpx.Response:
        return httpx.get(base + path, timeout=10)

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, paths))


def test_the_request_total_is_exact_across_two_workers(served: Served, prometheus: str) -> None:
    base = served.base
    scraped_after(prometheus, time.time())
    before = total(prometheus)
    responses = get_many(base, [f"/api/probe/items/{i}" for i in range(300)])
    assert {response.status_code for response in responses} == {200}
    pids = {response.json()["pid"] for response in responses}
    assert len(pids) == 2, f"all requests went to one worker: {pids}"
    scraped_after(prometheus, time.time())
    assert total(prometheus) - before == 300
    # 300 distinct ids, one series: the route template, never the raw path.
    series = query(
        prometheus, 'count(tempest_http_requests_total{route="/api/probe/items/{item_id}"})'
    )
    assert series == 1


def test_unhandled_errors_and_unmatched_paths_are_counted(served: Served, prometheus: str) -> None:
    base = served.base
    scraped_after(prometheus, time.time())
    errors = 'sum(tempest_http_requests_total{route="/api/probe/boom",status="500"})'
    unmatched = 'sum(tempest_http_requests_total{route="<unmatched>",status="404"})'
    before = (total(prometheus, errors), total(prometheus, unmatched))
    responses = get_many(base, ["/api/probe/boom"] * 5 + [f"/nowhere/{i}" for i in range(7)])
    assert [r.status_code for r in responses] == [500] * 5 + [404] * 7
    scraped_after(prometheus, time.time())
    assert total(prometheus, errors) - before[0] == 5
    assert total(prometheus, unmatched) - before[1] == 7


def test_promtool_finds_the_exposition_clean(served: Served) -> None:
    base = served.base
    body = httpx.get(f"{base}/metrics", timeout=10)
    assert body.status_code == 200
    assert "tempest_http_requests_total" in body.text
    assert "tempest_worker_resident_memory_bytes{pid=" in body.text  # each worker's own
    checked = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=body.text, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == "" and checked.stderr.strip() == ""


def _scraped_total(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("tempest_http_requests_total{")
    )


def test_a_scrape_while_a_worker_restarts_never_loses_counts(
    served: Served, prometheus: str
) -> None:
    base = served.base
    responses = get_many(base, [f"/api/probe/items/{i}" for i in range(40)])
    workers = {response.json()["pid"] for response in responses}
    before = _scraped_total(base)
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    # Scrapes while the supervisor notices and starts a new worker: the counts the dead
    # worker recorded stay in its files, so the total never goes down.
    seen: list[float] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            seen.append(_scraped_total(base))
        with suppress(httpx.HTTPError):
            pids = {r.json()["pid"] for r in get_many(base, ["/api/probe/items/0"] * 8)}
            if pids - workers:
                break  # a new worker answers
        time.sleep(0.1)
    else:
        raise AssertionError("uvicorn did not restart the killed worker")
    assert seen and min(seen) >= before
    assert all(later >= earlier for earlier, later in itertools.pairwise(seen))
    # The new worker counts on top; Prometheus sees the exact total.
    scraped_after(prometheus, time.time())
    start = total(prometheus)
    responses = get_many(base, [f"/api/probe/items/{i}" for i in range(50)])
    assert {r.status_code for r in responses} == {200}
    scraped_after(prometheus, time.time())
    assert total(prometheus) - start == 50
    # The dead worker's in-flight gauge is gone (reaped), its series no longer counted.
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert f'pid="{victim}"' not in metrics


def test_task_runs_of_manage_py_worker_reach_the_same_scrape(
    served: Served, prometheus: str
) -> None:
    log = served.project / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [PYTHON, "manage.py", "worker", "--workers", "1"],
            cwd=served.project,
            env=clean_env(**served.env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            kicked = httpx.post(f"{served.base}/api/probe/kick?ok=5&bad=2", timeout=10)
            assert kicked.status_code == 200, kicked.text
            want = {"kicked": 7.0, "done": 5.0, "failed": 2.0}
            deadline = time.monotonic() + 40
            found: dict[str, float] = {}
            while time.monotonic() < deadline:
                scraped_after(prometheus, time.time())
                found = {k: total(prometheus, f"sum(tempest_tasks_{k}_total)") for k in want}
                if found == want:
                    break
                time.sleep(0.5)
            assert found == want, log.read_text(errors="replace")[-3000:]
            by_task = query(prometheus, 'sum(tempest_tasks_failed_total{task=~".*fail"})')
            assert by_task == 2
        finally:
            stop_group(worker, timeout=10)
