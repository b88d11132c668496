"""The pytest plugin runs a project's tasks and queues inside its tests, without a broker.

A generated project gets a task that writes with ``TaskSession``, a subscriber that writes
with ``MessageSession`` and routes that kick and publish; its own tests then run with the
plugin, as a subprocess, while its ``.env`` points TaskIQ and RabbitMQ at a closed port.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, manage, run, tempest

pytestmark = pytest.mark.e2e

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/"

TASKS = '''from sqlalchemy import func, select
from tempest.tasks import TaskSession, task

from orders.models import OrderModel
from orders.repositories import OrderRepository


@task
async def record_order(name: str, session: TaskSession) -> None:
    """Save an order that says how many orders the task saw before it."""
    seen = await session.scalar(select(func.count()).select_from(OrderModel))
    await OrderRepository(session).add(OrderModel(name=f"{name} after {seen}"))


@task
async def refuse(name: str) -> None:
    raise ValueError(f"refused {name}")


attempts: list[str] = []


@task(retry=2)
async def flaky(name: str, session: TaskSession) -> None:
    attempts.append(name)
    if len(attempts) == 1:
        raise RuntimeError("the first attempt fails")
    await OrderRepository(session).add(OrderModel(name=name))


@task(retry=2)
async def broken(name: str) -> None:
    attempts.append(name)
    raise RuntimeError(f"attempt {len(attempts)} failed")
'''

SUBSCRIBERS = """from faststream.rabbit import RabbitRouter
from pydantic import BaseModel
from tempest.queue import MessageSession

from orders.models import OrderModel
from orders.repositories import OrderRepository

router = RabbitRouter()


class OrderPlaced(BaseModel):
    name: str


@router.subscriber("orders.placed")
async def order_placed(message: OrderPlaced, session: MessageSession) -> None:
    await OrderRepository(session).add(OrderModel(name=f"queued {message.name}"))
"""

ROUTES = """

from tempest.queue import Publisher

from orders.subscribers import OrderPlaced
from orders.tasks import record_order, refuse


@router.post("/later/{name}", status_code=202)
async def record_later(name: str) -> dict[str, str]:
    await record_order.kiq(name)
    return {"kicked": name}


@router.post("/refuse/{name}", status_code=202)
async def refuse_later(name: str) -> dict[str, str]:
    await refuse.kiq(name)
    return {"kicked": name}


@router.post("/place/{name}", status_code=202)
async def place(name: str, publisher: Publisher) -> dict[str, str]:
    await publisher.publish(OrderPlaced(name=name), queue="orders.placed")
    return {"published": name}
"""

PROJECT_TESTS = """import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tempest.tasks import wait_for_tasks

from orders.models import OrderModel


async def names(session: AsyncSession) -> list[str]:
    return sorted((await session.scalars(select(OrderModel.name))).all())


async def test_a_task_kicked_by_a_route_uses_the_test_session(
    client: AsyncClient, db_session: AsyncSession
) -> None:
    db_session.add(OrderModel(name="arranged"))
    await db_session.flush()  # not committed: only this test's transaction has it
    response = await client.post("/api/orders/later/tea")
    assert response.status_code == 202, response.text
    await wait_for_tasks()
    assert await names(db_session) == ["arranged", "tea after 1"]


async def test_the_tasks_rows_were_rolled_back(db_session: AsyncSession) -> None:
    assert await names(db_session) == []


async def test_a_failing_task_raises_in_wait_for_tasks(client: AsyncClient) -> None:
    response = await client.post("/api/orders/refuse/coffee")
    assert response.status_code == 202  # the request succeeds, as in production
    with pytest.raises(ValueError, match="refused coffee"):
        await wait_for_tasks()
    await wait_for_tasks()  # raised once


async def test_a_retried_task_that_succeeds_raises_nothing(db_session: AsyncSession) -> None:
    from orders.tasks import attempts, flaky

    attempts.clear()
    await flaky.kiq("scone")
    await wait_for_tasks()
    assert attempts == ["scone", "scone"]
    assert await names(db_session) == ["scone"]


async def test_a_task_failing_every_retry_raises_its_last_error() -> None:
    from orders.tasks import attempts, broken

    attempts.clear()
    await broken.kiq("bun")
    with pytest.raises(RuntimeError, match="attempt 3 failed"):
        await wait_for_tasks()
    assert len(attempts) == 3


async def test_a_published_message_reaches_the_subscriber(
    client: AsyncClient, db_session: AsyncSession
) -> None:
    response = await client.post("/api/orders/place/cake")
    assert response.status_code == 202, response.text
    assert await names(db_session) == ["queued cake"]


async def test_the_handlers_rows_were_rolled_back(db_session: AsyncSession) -> None:
    assert await names(db_session) == []


async def test_readiness_with_the_brokers_in_memory(client: AsyncClient) -> None:
    response = await client.get("/health/readiness")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "tasks": "ok", "queue": "ok"}


def test_the_settings_still_name_the_broker_of_env() -> None:
    from tempest.conf import settings

    assert settings.TASKIQ_BROKER_URL == "memory://"
    assert settings.RABBITMQ_URL == "UNREACHABLE"
""".replace("UNREACHABLE", UNREACHABLE)

UNWAITED = """from httpx import AsyncClient


async def test_forgets_to_wait(client: AsyncClient) -> None:
    assert (await client.post("/api/orders/refuse/soup")).status_code == 202
"""


@pytest.fixture(scope="module")
def background_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bakery`` + ``orders`` with a task, a subscriber, routes using them and tests."""
    root = tmp_path_factory.mktemp("background")
    assert tempest(root, "startproject", "bakery").returncode == 0
    project = root / "bakery"
    assert manage(project, "startapp", "orders").returncode == 0
    app = project / "orders"
    (app / "tasks.py").write_text(TASKS)
    (app / "subscribers.py").write_text(SUBSCRIBERS)
    (app / "routers.py").write_text((app / "routers.py").read_text() + ROUTES)
    # The template's smoke test expects only the database among the readiness checks.
    (project / "tests" / "test_smoke.py").unlink()
    (project / "tests" / "test_background.py").write_text(PROJECT_TESTS)
    env = project / ".env"
    env.write_text(
        env.read_text() + f"TASKIQ_BROKER_URL={UNREACHABLE}\nRABBITMQ_URL={UNREACHABLE}\n"
    )
    return project


def run_project_tests(project: Path, *args: str) -> tuple[int, str]:
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], project, timeout=120
    )
    return result.returncode, result.stdout + result.stderr


def test_tasks_and_queues_run_in_the_tests_without_a_broker(background_project: Path) -> None:
    code, output = run_project_tests(background_project, "--ignore=tests/test_unwaited.py")
    assert code == 0, output
    assert "13 passed" in output, output  # 4 of orders/tests/test_api.py, 9 above


def test_a_task_error_nobody_waited_for_fails_the_test(background_project: Path) -> None:
    (background_project / "tests" / "test_unwaited.py").write_text(UNWAITED)
    code, output = run_project_tests(background_project, "tests/test_unwaited.py")
    assert code == 1, output
    assert "1 passed, 1 error" in output, output
    assert "1 background task(s) kicked by this test raised:" in output, output
    assert "ValueError: refused soup" in output, output


def test_a_test_broker_url_replaces_memory(new_project: Callable[..., Path]) -> None:
    """``TEMPEST_TEST_TASKIQ_BROKER_URL`` is the run's ``TASKIQ_BROKER_URL``."""
    project = new_project("mysite")
    (project / "tests" / "test_url.py").write_text(
        "def test_url():\n"
        "    from tempest.conf import settings\n\n"
        "    assert settings.TASKIQ_BROKER_URL == 'redis://127.0.0.1:1/0'\n"
    )
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_url.py"],
        project,
        env=clean_env(TEMPEST_TEST_TASKIQ_BROKER_URL="redis://127.0.0.1:1/0"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
