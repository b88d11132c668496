"""``manage.py tasks``, ``worker`` and ``scheduler`` as real subprocesses on a generated project."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, manage, one_line_error
from tests.services import delete_task_queue, kick_task

pytestmark = pytest.mark.e2e

TASKS = """
from datetime import timedelta

from sqlalchemy import text
from tempest.tasks import TaskSession, periodic, task



@task
async def record_order(code: str, session: TaskSession) -> None:
    await session.execute(text("INSERT INTO task_runs (code) VALUES (:code)"), {"code": code})
    await session.commit()


@task(name="orders.charge", retry=3)
async def charge(amount: int) -> int:
    return amount


@periodic(interval=timedelta(seconds=1))
async def heartbeat() -> None: ...


@periodic(cron="0 9 * * MON-FRI", cron_offset="-03:00")
async def digest() -> None: ...
"""

SETTINGS_FIELDS = """
    TASKIQ_BROKER_URL: str = "memory://"
    TASKIQ_RESULT_BACKEND_URL: str | None = None
    TASKIQ_QUEUE_NAME: str | None = None
"""


def _project(new_project: Callable[..., Path]) -> Path:
    project = new_project("shop", "orders")
    (project / "orders" / "tasks.py").write_text(TASKS)
    settings = project / "shop" / "settings.py"
    source = settings.read_text()
    marker = '    TITLE: str = "shop"\n'
    assert marker in source
    settings.write_text(source.replace(marker, marker + SETTINGS_FIELDS))
    with sqlite3.connect(project / "db.sqlite3") as db:
        db.execute("CREATE TABLE task_runs (code TEXT NOT NULL)")
    return project


def test_tasks_lists_names_apps_and_schedules(new_project: Callable[..., Path]) -> None:
    project = _project(new_project)
    result = manage(project, "tasks")
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        ["TASK", "APP", "SCHEDULE"],
        ["orders.charge", "orders", "-"],
        ["orders.digest", "orders", "cron", "0", "9", "*", "*", "MON-FRI", "(UTC-03:00)"],
        ["orders.heartbeat", "orders", "every", "1s"],
        ["orders.record_order", "orders", "-"],
    ]


def test_worker_and_scheduler_refuse_the_memory_broker(new_project: Callable[..., Path]) -> None:
    project = _project(new_project)
    for command in ("worker", "scheduler"):
        line = one_line_error(manage(project, command))
        assert f"manage.py {command} needs a shared broker" in line
        assert "Set TASKIQ_BROKER_URL" in line


def test_worker_errors_are_one_line(new_project: Callable[..., Path]) -> None:
    project = _project(new_project)
    unreachable = one_line_error(
        manage(project, "worker", TASKIQ_BROKER_URL="amqp://guest:secret@127.0.0.1:1/")
    )
    assert "Cannot reach the task broker at amqp://guest:***@127.0.0.1:1/" in unreachable
    scheme = one_line_error(manage(project, "worker", TASKIQ_BROKER_URL="kafka://x:9092"))
    assert "TASKIQ_BROKER_URL 'kafka://x:9092' has an unsupported scheme" in scheme
    workers = manage(project, "worker", "--workers", "0", TASKIQ_BROKER_URL="amqp://x/")
    assert workers.returncode == 2 and "--workers" in workers.stderr


def test_worker_runs_a_kicked_task_writing_a_row_and_stops_on_sigterm(
    new_project: Callable[..., Path],
) -> None:
    amqp = service_url("TEMPEST_TEST_AMQP_URL")
    project = _project(new_project)
    queue = f"tempest-test-{uuid.uuid4().hex[:8]}"
    env = clean_env(TASKIQ_BROKER_URL=amqp, TASKIQ_QUEUE_NAME=queue)
    worker = subprocess.Popen(
        [PYTHON, "manage.py", "worker", "--workers", "1", "--grace-period", "5"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        asyncio.run(kick_task(amqp, queue, "orders.record_order", "A-1"))
        deadline = time.monotonic() + 20
        rows: list[tuple[str]] = []
        while time.monotonic() < deadline and not rows:
            time.sleep(0.2)
            with sqlite3.connect(project / "db.sqlite3") as db:
                rows = db.execute("SELECT code FROM task_runs").fetchall()
        assert rows == [("A-1",)]
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=20)
        assert worker.returncode == 0, output
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        asyncio.run(delete_task_queue(amqp, queue))
