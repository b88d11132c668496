"""Fixtures of the queue tests: the real RabbitMQ, unique queue names and their cleanup."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tempest.apps import apps
from tempest.conf import RabbitMQSettings, Settings, settings
from tempest.db import reset_database
from tempest.queue import reset_queue, stop_queue
from tests.conftest import service_url

QueueName = Callable[[str], str]
Configure = Callable[..., Path]


@pytest.fixture
def amqp_url() -> str:
    """The test RabbitMQ (skips, or fails under TEMPEST_REQUIRE_SERVICES=1, when unset)."""
    return service_url("TEMPEST_TEST_AMQP_URL")


@pytest.fixture
def queue_name(amqp_url: str) -> Iterator[QueueName]:
    """Make queue names unique to this run; the queues are deleted after the test."""
    made: list[str] = []

    def name(base: str) -> str:
        made.append(f"tempest-test.{base}.{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield name
    asyncio.run(_delete_queues(amqp_url, made))


async def _delete_queues(url: str, names: list[str]) -> None:
    import aio_pika

    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        for queue in names:
            await channel.queue_delete(queue)


class _QueueSettings(Settings, RabbitMQSettings):
    """Settings with the RabbitMQ group, whether or not Settings already has it."""


@pytest.fixture
async def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Configure]:
    """Configure an ad-hoc project: apps made from ``{app: {module: source}}`` + settings.

    Settings, apps, database and queue are forgotten after the test.
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def make(app_modules: dict[str, dict[str, str]] | None = None, **values: Any) -> Path:
        installed = []
        for app, modules in (app_modules or {}).items():
            package = tmp_path / app
            package.mkdir()
            (package / "__init__.py").write_text("")
            for module, source in modules.items():
                (package / f"{module}.py").write_text(textwrap.dedent(source))
            installed.append(app)
        values.setdefault("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
        settings.configure(_QueueSettings(INSTALLED_APPS=installed, **values))  # type: ignore[attr-defined]
        apps.populate(installed)
        return tmp_path

    yield make
    await stop_queue()
    reset_queue()
    apps.reset()
    settings.reset()  # type: ignore[attr-defined]
    reset_database()


def app_name() -> str:
    """A package name no other test uses (modules stay imported for the whole run)."""
    return f"qapp_{uuid.uuid4().hex[:8]}"
