"""Two ``manage.py scheduler`` processes: one leads, one waits, and each tick is kicked once.

The generated project's broker is a Redis stream made for this module; no worker runs, so
every kick stays in the stream, and its entry id tells when it was sent. The lease is in
Redis (derived from TASKIQ_BROKER_URL) or a PostgreSQL advisory lock (SCHEDULER_LOCK_URL).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, manage, stop_group, tempest

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 2.0

TASKS = '''
"""A task kicked every second."""

from tempest.tasks import periodic


@periodic(interval=1)
async def tick() -> None: ...
'''


@dataclass
class Project:
    """The generated project, its Redis stream and the settings of its schedulers."""

    path: Path
    redis_url: str
    stream: str


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """``shop`` with a ``jobs`` app whose ``tick`` is kicked every second."""
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    root = tmp_path_factory.mktemp("scheduler-lease")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    path = root / "shop"
    app = manage(path, "startapp", "--empty", "jobs")
    assert app.returncode == 0, app.stderr
    (path / "jobs" / "tasks.py").write_text(TASKS)
    stream = f"tempest-lease-{uuid.uuid4().hex[:10]}"
    yield Project(path, redis_url, stream)
    client = redis.Redis.from_url(redis_url)
    client.delete(stream, f"tempest:scheduler:{stream}")
    client.close()


@dataclass
class Scheduler:
    """A running ``manage.py scheduler`` and the file its output goes to."""

    process: subprocess.Popen[str]
    log: Path

    def output(self) -> str:
        return self.log.read_text()

    def wait_for_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and text not in self.output():
            time.sleep(0.1)
        assert text in self.output(), self.output()


@contextmanager
def scheduler(project: Project, **env: str) -> Iterator[Scheduler]:
    """``manage.py scheduler`` in its own process group; SIGTERM, then SIGKILL, at the end."""
    log = project.path / f"scheduler-{uuid.uuid4().hex[:8]}.log"
    output = log.open("w")
    process = subprocess.Popen(
        [PYTHON, "manage.py", "scheduler"],
        cwd=project.path,
        env=clean_env(
            TASKIQ_BROKER_URL=project.redis_url,
            TASKIQ_QUEUE_NAME=project.stream,
            SCHEDULER_LEASE_SECONDS=str(LEASE_SECONDS),
            LOG_LEVEL="WARNING",
            **env,
        ),
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield Scheduler(process, log)
    finally:
        stop_group(process, timeout=5)
        output.close()


def kicks(project: Project) -> list[float]:
    """When each task in the stream was kicked (seconds since the epoch), oldest first."""
    client = redis.Redis.from_url(project.redis_url)
    try:
        entries = client.xrange(project.stream)
    finally:
        client.close()
    return [int(entry_id.split(b"-")[0]) / 1000 for entry_id, _ in entries]


def wait_for_kicks(project: Project, count: int, timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = kicks(project)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} kicks within {timeout}s: {kicks(project)}")


def assert_once_per_tick(times: list[float]) -> None:
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap > 0.5 for gap in gaps), gaps  # two schedulers kick within milliseconds


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
def test_a_standby_scheduler_takes_over_and_each_tick_is_kicked_once(
    project: Project, backend: str
) -> None:
    env = {}
    if backend == "postgresql":
        env["SCHEDULER_LOCK_URL"] = service_url("TEMPEST_TEST_DATABASE_URL")
    before = len(kicks(project))
    with scheduler(project, **env) as leader:
        wait_for_kicks(project, before + 1, 20)
        with scheduler(project, **env) as standby:
            standby.wait_for_output("Scheduling 1 periodic task", 20)
            time.sleep(2.5)  # both run: the standby waits (no second kick per tick)
            assert leader.process.poll() is None and standby.process.poll() is None
            os.killpg(leader.process.pid, signal.SIGKILL)
            killed_at = time.time()
            leader.process.wait(timeout=5)
            count = len([at for at in kicks(project) if at <= killed_at])
            # The lease runs out, the standby notices within a third of it, then ticks.
            taken = wait_for_kicks(project, count + 1, LEASE_SECONDS + 1 + 3)
            takeover = taken[count] - killed_at
            wait_for_kicks(project, count + 3, 5)  # it goes on ticking
            standby.process.send_signal(signal.SIGTERM)
            assert standby.process.wait(timeout=10) == 0, standby.output()
    assert_once_per_tick(kicks(project)[before:])
    assert takeover < LEASE_SECONDS + 1 + 1.5, takeover
    assert "Waiting for the scheduler lease" in standby.output(), standby.output()
    assert "Holding the scheduler lease" in standby.output(), standby.output()
