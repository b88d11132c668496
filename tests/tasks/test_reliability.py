"""Tasks end to end on PostgreSQL and RabbitMQ, and what happens when processes die.

One generated project for the module: its ``jobs`` app has a model migrated into a
PostgreSQL database made for this run, tasks that write rows through ``TaskSession``, a
periodic task, and a route that kicks a task. ``manage.py worker``, ``scheduler`` and
``runserver`` run as real subprocesses on a RabbitMQ queue named for this run.

The RabbitMQ restart test stops and starts the local broker with ``rabbitmqctl``: other
programs using that broker at the same time lose their connections for a few seconds.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, free_port, http, manage, tempest, wait_for_http
from tests.services import delete_task_queue, kick_task, plain_dsn, scratch_database

pytestmark = pytest.mark.e2e

MODELS = '''
"""Rows written by the tasks under test."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from tempest.db import BaseModel


class RunModel(BaseModel):
    """One thing a task did: kind is kick, tick, start or finish."""

    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(100))
'''

TASKS = '''
"""Tasks that leave a row behind for every thing they do."""

import asyncio
from datetime import timedelta

from tempest.tasks import TaskSession, periodic, task

from jobs.models import RunModel


@task
async def record(code: str, session: TaskSession) -> None:
    session.add(RunModel(kind="kick", code=code))
    await session.commit()


@task
async def slow(code: str, seconds: float, session: TaskSession) -> None:
    session.add(RunModel(kind="start", code=code))
    await session.commit()
    await asyncio.sleep(seconds)
    session.add(RunModel(kind="finish", code=code))
    await session.commit()


@periodic(interval=timedelta(seconds=1))
async def tick(session: TaskSession) -> None:
    session.add(RunModel(kind="tick", code="tick"))
    await session.commit()
'''

ROUTERS = '''
"""A route that hands its work to a worker."""

from fastapi import APIRouter, status

from jobs.tasks import record

router = APIRouter(tags=["jobs"])


@router.post("/kick/{code}", status_code=status.HTTP_202_ACCEPTED)
async def kick(code: str) -> dict[str, str]:
    handle = await record.kiq(code)
    return {"task_id": handle.task_id}
'''


@dataclass
class Project:
    """The generated project and the services it runs on."""

    path: Path
    database_url: str
    amqp_url: str
    queue: str

    def env(self) -> dict[str, str]:
        return clean_env(
            DATABASE_URL=self.database_url,
            TASKIQ_BROKER_URL=self.amqp_url,
            TASKIQ_QUEUE_NAME=self.queue,
            LOG_LEVEL="WARNING",
        )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """``shop`` with the ``jobs`` app, migrated into a PostgreSQL database of its own."""
    admin_url = service_url("TEMPEST_TEST_DATABASE_URL")
    amqp_url = service_url("TEMPEST_TEST_AMQP_URL")
    suffix = uuid.uuid4().hex[:10]
    database = f"tempest_tasks_{suffix}"
    root = tmp_path_factory.mktemp("tasks-e2e")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    path = root / "shop"
    app = manage(path, "startapp", "--empty", "jobs")
    assert app.returncode == 0, app.stderr
    (path / "jobs" / "models.py").write_text(MODELS)
    (path / "jobs" / "tasks.py").write_text(TASKS)
    (path / "jobs" / "routers.py").write_text(ROUTERS)
    with scratch_database(admin_url, database) as database_url:
        result = Project(path, database_url, amqp_url, f"tempest-rel-{suffix}")
        try:
            for step in ("makemigrations", "migrate"):
                done = manage(path, step, timeout=60, **_env_overrides(result))
                assert done.returncode == 0, done.stdout + done.stderr
            yield result
        finally:
            asyncio.run(delete_task_queue(amqp_url, result.queue))


def _env_overrides(project: Project) -> dict[str, str]:
    return {
        "DATABASE_URL": project.database_url,
        "TASKIQ_BROKER_URL": project.amqp_url,
        "TASKIQ_QUEUE_NAME": project.queue,
    }


@contextmanager
def running(project: Project, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``manage.py ARGS`` in its own process group, killed with the group at the end."""
    process = subprocess.Popen(
        [PYTHON, "manage.py", *args],
        cwd=project.path,
        env=project.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            # The group may outlive its leader (worker processes of a killed manager).
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)


@contextmanager
def start_worker(project: Project) -> Iterator[subprocess.Popen[str]]:
    """``manage.py worker`` with one worker process and a 10 s grace period."""
    with running(project, "worker", "--workers", "1", "--grace-period", "10") as process:
        yield process


async def _rows(project: Project, kind: str, code: str | None = None) -> list[tuple[str, float]]:
    import asyncpg

    connection = await asyncpg.connect(plain_dsn(project.database_url))
    try:
        query = "SELECT code, extract(epoch FROM created_at) AS at FROM run WHERE kind = $1"
        values: list[object] = [kind]
        if code is not None:
            query += " AND code = $2"
            values.append(code)
        records = await connection.fetch(query + " ORDER BY created_at", *values)
    finally:
        await connection.close()
    return [(record["code"], float(record["at"])) for record in records]


def rows(project: Project, kind: str, code: str | None = None) -> list[tuple[str, float]]:
    """Rows of the ``run`` table of one kind (and code), oldest first."""
    return asyncio.run(_rows(project, kind, code))


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def kick(project: Project, task_name: str, *args: object) -> None:
    """Send a task by name from this process, as another service would."""
    asyncio.run(kick_task(project.amqp_url, project.queue, task_name, *args))


def stop(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, float]:
    """SIGTERM the process; return its exit status, output and how long it took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output, time.monotonic() - started


def test_a_request_kicks_a_task_and_the_scheduler_ticks_every_second(project: Project) -> None:
    port = free_port()
    with (
        start_worker(project) as worker,
        running(project, "runserver", "--noreload", f"127.0.0.1:{port}") as server,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health/liveness")
        status, body = http("POST", f"{base}/api/jobs/kick/order-1")
        assert status == 202, body
        wait_until(lambda: rows(project, "kick") != [], 20, "the kicked task wrote its row")
        assert [code for code, _ in rows(project, "kick")] == ["order-1"]
        assert worker.poll() is None and server.poll() is None

        with running(project, "scheduler") as scheduler:
            wait_until(lambda: rows(project, "tick") != [], 15, "the first tick")
            time.sleep(5.5)
            ticks = rows(project, "tick")
            status_code, output, took = stop(scheduler, timeout=10)
        assert status_code == 0, output
        assert took < 5, output
    # About one a second: 6 or 7 in the 5.5 s after the first, never a burst.
    assert 5 <= len(ticks) <= 8, ticks
    gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(ticks)]
    assert all(gap > 0.5 for gap in gaps), gaps


def test_a_task_whose_worker_is_killed_runs_again_on_a_new_worker(project: Project) -> None:
    code = f"killed-{uuid.uuid4().hex[:6]}"
    with start_worker(project) as worker:
        kick(project, "jobs.slow", code, 3)
        wait_until(lambda: rows(project, "start", code) != [], 20, "the task started")
        os.killpg(worker.pid, signal.SIGKILL)  # the manager and its worker process
        worker.wait(timeout=10)
    assert rows(project, "finish", code) == []
    with start_worker(project):
        wait_until(lambda: rows(project, "finish", code) != [], 25, "the task ran again")
    assert len(rows(project, "start", code)) == 2  # at least once: it started twice
    assert len(rows(project, "finish", code)) == 1


def test_sigterm_lets_the_running_task_finish_and_the_worker_exits_0(project: Project) -> None:
    code = f"graceful-{uuid.uuid4().hex[:6]}"
    with start_worker(project) as worker:
        kick(project, "jobs.slow", code, 2)
        wait_until(lambda: rows(project, "start", code) != [], 20, "the task started")
        status, output, took = stop(worker, timeout=20)
    assert status == 0, output
    assert took < 10, output  # within the grace period
    assert len(rows(project, "finish", code)) == 1, output


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _rabbitmqctl(*args: str) -> None:
    result = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_worker_reconnects_after_rabbitmq_restarts(project: Project) -> None:
    from shutil import which

    if which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed: cannot restart RabbitMQ")
    port = int(project.amqp_url.rpartition(":")[2].strip("/").split("/")[0] or 5672)
    with start_worker(project) as worker:
        kick(project, "jobs.record", "before-restart")
        wait_until(lambda: rows(project, "kick", "before-restart") != [], 20, "first task")
        try:
            _rabbitmqctl("stop_app")
            wait_until(lambda: not _port_open(port), 20, "RabbitMQ stopped listening")
        finally:
            _rabbitmqctl("start_app")
            wait_until(lambda: _port_open(port), 60, "RabbitMQ listens again")
        kick(project, "jobs.record", "after-restart")
        wait_until(lambda: rows(project, "kick", "after-restart") != [], 30, "task after restart")
        assert worker.poll() is None
