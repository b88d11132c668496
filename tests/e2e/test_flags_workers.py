"""Feature flags across processes: ``manage.py serve --workers 2`` following Redis.

One generated project, served once for the module with ``REDIS_URL`` set (nothing else:
the flags follow it) and a small app whose routes evaluate flags. Each worker is reached
through a keep-alive connection of its own, so that every answer is known to come from
one given worker.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tempest.flags import FlagState, RedisFeatureFlagBackend
from tempest.flags.state import bucket_of
from tests.conftest import service_url
from tests.helpers import manage, serve_project, tempest

pytestmark = pytest.mark.e2e

ROUTERS = """
import os

from fastapi import APIRouter
from pydantic import BaseModel

from tempest.flags import get_flags

router = APIRouter()


class Subjects(BaseModel):
    flag: str
    subjects: list[str]


@router.get("/state/{flag}")
async def state(flag: str) -> dict[str, object]:
    found = get_flags().get(flag)
    return {"pid": os.getpid(), "state": found.describe() if found else None}


@router.post("/evaluate")
async def evaluate(body: Subjects) -> dict[str, object]:
    flags = get_flags()
    return {"pid": os.getpid(), "answers": [flags.is_enabled(body.flag, s) for s in body.subjects]}
"""


class Served:
    """The served project: its folder, base URL, settings, and one client per worker."""

    def __init__(self, project: Path, base: str, env: dict[str, str]) -> None:
        self.project = project
        self.base = base
        self.env = env
        self.workers: dict[int, httpx.Client] = {}

    def connect_to_every_worker(self, count: int = 2) -> None:
        """Open keep-alive connections until ``count`` workers each have one."""
        spare: list[httpx.Client] = []
        deadline = time.monotonic() + 20
        while len(self.workers) < count:
            assert time.monotonic() < deadline, f"reached only workers {sorted(self.workers)}"
            client = httpx.Client(
                base_url=self.base, timeout=10, limits=httpx.Limits(max_connections=1)
            )
            pid = client.get("/api/flagdemo/state/switch").json()["pid"]
            if pid in self.workers:
                spare.append(client)  # kept open meanwhile: the next one goes elsewhere
            else:
                self.workers[pid] = client
        for client in spare:
            client.close()

    def state(self, pid: int, flag: str) -> str | None:
        answer = self.workers[pid].get(f"/api/flagdemo/state/{flag}").json()
        assert answer["pid"] == pid
        return answer["state"]  # type: ignore[no-any-return]

    def wait_until_every_worker_has(self, flag: str, expected: str) -> float:
        """Seconds until both workers report ``expected`` for ``flag`` (polling both)."""
        started = time.monotonic()
        pending = set(self.workers)
        while pending:
            for pid in list(pending):
                if self.state(pid, flag) == expected:
                    pending.discard(pid)
            assert time.monotonic() - started < 5, f"workers {pending} still not {expected}"
        return time.monotonic() - started

    def close(self) -> None:
        for client in self.workers.values():
            client.close()


async def _write(url: str, key: str, name: str, state: FlagState) -> None:
    backend = RedisFeatureFlagBackend.from_url(url, key=key)
    try:
        await backend.set(name, state)
    finally:
        await backend.aclose()


async def _forget(url: str, key: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    redis_url = service_url("TEMPEST_TEST_REDIS_URL")
    key = f"tempest:test-flags:{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("flags-workers")
    created = tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    (project / "flagdemo").mkdir()
    (project / "flagdemo" / "__init__.py").write_text("")
    (project / "flagdemo" / "routers.py").write_text(ROUTERS)
    env = {
        "INSTALLED_APPS": json.dumps(["flagdemo"]),
        "REDIS_URL": redis_url,
        "FEATURE_FLAGS_REDIS_KEY": key,
        "FEATURE_FLAGS": json.dumps({"switch": False, "rollout": False}),
    }
    try:
        with serve_project(project, "serve", "--workers", "2", env=env) as (base, _):
            result = Served(project, base, env)
            try:
                result.connect_to_every_worker()
                yield result
            finally:
                result.close()
    finally:
        asyncio.run(_forget(redis_url, key))


def test_a_flag_flipped_in_redis_or_by_the_command_reaches_both_workers_within_1s(
    served: Served,
) -> None:
    for pid in served.workers:
        assert served.state(pid, "switch") == "off"  # the FEATURE_FLAGS default
    url, key = served.env["REDIS_URL"], served.env["FEATURE_FLAGS_REDIS_KEY"]
    asyncio.run(_write(url, key, "switch", FlagState(True)))
    assert served.wait_until_every_worker_has("switch", "on") < 1.0

    done = manage(served.project, "flags", "disable", "switch", **served.env)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    assert served.wait_until_every_worker_has("switch", "off") < 1.0


def test_a_25_percent_rollout_is_25_percent_and_the_same_in_both_workers(served: Served) -> None:
    done = manage(served.project, "flags", "set", "rollout", "25", **served.env)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    assert served.wait_until_every_worker_has("rollout", "25%") < 1.0
    subjects = [f"user-{index}" for index in range(10_000)]
    answers = {
        pid: client.post(
            "/api/flagdemo/evaluate", json={"flag": "rollout", "subjects": subjects}
        ).json()
        for pid, client in served.workers.items()
    }
    first, second = (answers[pid]["answers"] for pid in served.workers)
    assert first == second  # every subject gets the same answer in both workers
    share = sum(first) / len(subjects) * 100
    assert 23.5 <= share <= 26.5, share
    # Sticky beyond these processes: the bucket is a documented hash, not hash().
    assert first == [bucket_of("rollout", s) < 2500 for s in subjects]
