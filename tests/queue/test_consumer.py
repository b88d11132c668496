"""``manage.py consumer`` in a generated project: discovery, graceful SIGTERM, clear errors."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import PYTHON, clean_env, free_port, manage, one_line_error
from tests.queue.conftest import QueueName

pytestmark = pytest.mark.e2e

SUBSCRIBERS = """
import asyncio
from pathlib import Path

from faststream.rabbit import RabbitRouter
from pydantic import BaseModel

router = RabbitRouter()
OUT = Path(__file__).resolve().parent.parent / "received.txt"


class Note(BaseModel):
    text: str
    seconds: float = 0


@router.subscriber({queue!r})
async def write_note(note: Note) -> None:
    with OUT.open("a") as out:
        out.write(f"start {{note.text}}\\n")
    await asyncio.sleep(note.seconds)
    with OUT.open("a") as out:
        out.write(f"done {{note.text}}\\n")
"""


def _publish(url: str, queue: str, body: dict[str, object]) -> None:
    from faststream.rabbit import RabbitBroker

    async def send() -> None:
        async with RabbitBroker(url) as broker:
            await broker.publish(body, queue=queue)

    asyncio.run(send())


def _wait_for(predicate: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_consumer_runs_app_subscribers_and_stops_gracefully_on_sigterm(
    new_project: Callable[..., Path], amqp_url: str, queue_name: QueueName
) -> None:
    project = new_project("shop", "orders")
    name = queue_name("notes")
    (project / "orders" / "subscribers.py").write_text(SUBSCRIBERS.format(queue=name))
    received = project / "received.txt"
    consumer = subprocess.Popen(
        [PYTHON, "manage.py", "consumer"],
        cwd=project,
        env=clean_env(RABBITMQ_URL=amqp_url, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert consumer.stdout is not None
    stdout = consumer.stdout
    threading.Thread(target=lambda: lines.extend(stdout), daemon=True).start()
    try:
        _wait_for(lambda: any("Quit the consumer" in line for line in lines))
        assert f"  orders: {name}\n" in lines
        _publish(amqp_url, name, {"text": "first"})
        _wait_for(lambda: received.exists() and "done first" in received.read_text())

        _publish(amqp_url, name, {"text": "slow", "seconds": 1.5})
        _wait_for(lambda: "start slow" in received.read_text())
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(timeout=20) == 0, consumer.stderr.read() if consumer.stderr else ""
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    assert received.read_text().splitlines() == [
        "start first",
        "done first",
        "start slow",
        "done slow",
    ]
    assert lines[-1] == "Stopped.\n"


def test_consumer_errors_are_one_line(new_project: Callable[..., Path], tmp_path: Path) -> None:
    project = new_project("shop", "orders")
    nothing = one_line_error(manage(project, "consumer"))
    assert "no installed app has a subscribers.py" in nothing

    (project / "orders" / "subscribers.py").write_text(SUBSCRIBERS.format(queue="unused"))
    closed = f"amqp://guest:secret@127.0.0.1:{free_port()}/"
    line = one_line_error(manage(project, "consumer", RABBITMQ_URL=closed, timeout=30))
    assert "RABBITMQ_URL" in line
    assert "Cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:" in line
    assert "secret" not in line
