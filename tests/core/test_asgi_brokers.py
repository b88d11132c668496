"""The app's lifespan starts the task broker and the queue only for projects that use them."""

from __future__ import annotations

import importlib
import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempest.apps import apps
from tempest.conf import Settings, settings
from tempest.core.asgi import get_asgi_application
from tempest.db import reset_database

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

TASKS = """
from tempest import task

DONE: list[str] = []


@task
async def remember(value: str) -> None:
    DONE.append(value)
"""

ROUTERS = """
from fastapi import APIRouter

from {app}.tasks import remember

router = APIRouter()


@router.post("/kick/{{value}}")
async def kick(value: str) -> dict[str, bool]:
    await remember.kiq(value)
    return {{"kicked": True}}
"""


@pytest.fixture
def build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """Build the app of an ad-hoc app package (with or without tasks) and settings values."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(*, with_tasks: bool, **values: Any) -> tuple[Any, str]:
        name = f"jobs_{uuid.uuid4().hex[:8]}"
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        if with_tasks:
            (tmp_path / name / "tasks.py").write_text(textwrap.dedent(TASKS))
            (tmp_path / name / "routers.py").write_text(ROUTERS.format(app=name))
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(Settings(INSTALLED_APPS=[name], **values))  # type: ignore[attr-defined]
        return get_asgi_application(), name

    yield make
    from tempest.queue import reset_queue
    from tempest.tasks import reset_task_broker

    reset_task_broker()
    reset_queue()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


async def readiness(app: Any) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/health/readiness")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_task_kicked_by_a_request_runs_in_process_on_memory(build: Any) -> None:
    from tempest.tasks import wait_for_tasks

    app, name = build(with_tasks=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post(f"/api/{name}/kick/first")
            assert response.status_code == 200, response.text
        await wait_for_tasks()
        assert importlib.import_module(f"{name}.tasks").DONE == ["first"]
        assert (await readiness(app))["checks"] == {"database": "ok", "tasks": "ok"}


async def test_a_project_without_tasks_or_queues_starts_without_brokers(build: Any) -> None:
    app, _ = build(with_tasks=False)
    async with app.router.lifespan_context(app):
        assert (await readiness(app))["checks"] == {"database": "ok"}


async def test_a_project_that_names_its_rabbitmq_connects_the_queue(build: Any) -> None:
    url = os.environ.get("TEMPEST_TEST_AMQP_URL")
    if not url:
        if os.environ.get("TEMPEST_REQUIRE_SERVICES") == "1":
            pytest.fail("TEMPEST_TEST_AMQP_URL is not set (TEMPEST_REQUIRE_SERVICES=1)")
        pytest.skip("TEMPEST_TEST_AMQP_URL is not set: this test needs the real service")
    app, _ = build(with_tasks=False, RABBITMQ_URL=url)
    async with app.router.lifespan_context(app):
        assert (await readiness(app))["checks"] == {"database": "ok", "queue": "ok"}
