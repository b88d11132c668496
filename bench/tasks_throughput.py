"""No-op tasks per second: ``manage.py worker`` vs a bare ``taskiq worker``, on RabbitMQ.

Both workers consume the same kind of queue on the same broker URL with the same
settings: an ``AioPikaBroker`` whose exchange and queue are named for the round, prefetch
(qos) 10, 100 async tasks per process, acknowledgement after the task ran, and the same
number of worker processes. The tempest side is a generated project whose app declares
``@task async def noop()``; the baseline is a module with a plain ``AioPikaBroker`` and
the same task registered under the same name.

Each round fills a fresh queue with --tasks messages (sent before the worker starts),
starts the worker, and times the drain: from the moment the queue's ready count first
drops to the moment it reaches zero, polling RabbitMQ every few milliseconds (the at
most qos x processes messages still in flight then are negligible). Rounds alternate
between the two workers; each figure is the median of --rounds rounds.

Target: tempest >= 0.9x bare TaskIQ.

Usage: .venv/bin/python bench/tasks_throughput.py [--tasks 20000] [--workers 1] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

AMQP_URL = os.environ.get("TEMPEST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PYTHON = sys.executable

TASKS = """
from tempest.tasks import task


@task
async def noop() -> None:
    return None
"""

BARE = """
import os

from taskiq_aio_pika import AioPikaBroker, Exchange, Queue

QUEUE = os.environ["BENCH_QUEUE"]
broker = AioPikaBroker(
    os.environ["BENCH_AMQP_URL"],
    exchange=Exchange(name=QUEUE),
    task_queues=[Queue(name=QUEUE)],
    dead_letter_queue=Queue(name=f"{QUEUE}.dead_letter"),
)


@broker.task(task_name="benchapp.noop")
async def noop() -> None:
    return None
"""


def make_project(root: Path) -> Path:
    """A generated project with the ``benchapp`` app and the bare module beside it."""
    env = clean_env()
    subprocess.run(
        [PYTHON, "-m", "tempest", "startproject", "benchproj"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    project = root / "benchproj"
    subprocess.run(
        [PYTHON, "manage.py", "startapp", "--empty", "benchapp"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    (project / "benchapp" / "tasks.py").write_text(TASKS)
    (project / "bare_broker.py").write_text(BARE)
    return project


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"TEMPEST_SETTINGS_MODULE"}}
    env.update(extra)
    return env


async def fill(queue: str, count: int) -> None:
    """Declare the round's queue and send ``count`` no-op tasks into it."""
    from taskiq.kicker import AsyncKicker

    from tempest.tasks import make_broker

    broker = make_broker(AMQP_URL, queue_name=queue)
    await broker.startup()
    try:
        kicker: AsyncKicker[..., object] = AsyncKicker("benchapp.noop", broker, {})
        batch = 500
        for start in range(0, count, batch):
            await asyncio.gather(*(kicker.kiq() for _ in range(min(batch, count - start))))
    finally:
        await broker.shutdown()


async def drain_time(queue: str, process: subprocess.Popen[bytes], count: int) -> float:
    """Seconds between the first consumed message and an empty queue; tasks per second."""
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()

        async def ready() -> int:
            declared = await channel.declare_queue(queue, passive=True)
            assert declared.declaration_result.message_count is not None
            return int(declared.declaration_result.message_count)

        deadline = time.monotonic() + 120
        while (left := await ready()) >= count:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not start consuming")
            await asyncio.sleep(0.002)
        started, first_left = time.perf_counter(), left
        while left > 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the worker did not drain the queue")
            await asyncio.sleep(0.002)
            left = await ready()
        return first_left / (time.perf_counter() - started)


async def delete_queue(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dead_letter"):
            await channel.queue_delete(name)
        await channel.exchange_delete(queue)


def one_round(project: Path, kind: str, tasks: int, workers: int) -> float:
    """Fill a queue, run one kind of worker over it; return tasks per second."""
    queue = f"bench-tasks-{uuid.uuid4().hex[:8]}"
    asyncio.run(fill(queue, tasks))
    common = ["--workers", str(workers), "--max-async-tasks", "100", "--log-level", "WARNING"]
    if kind == "tempest":
        command = [PYTHON, "manage.py", "worker", *common]
    else:
        command = [PYTHON, "-m", "taskiq", "worker", "bare_broker:broker", *common]
    env = clean_env(
        TASKIQ_BROKER_URL=AMQP_URL,
        TASKIQ_QUEUE_NAME=queue,
        BENCH_AMQP_URL=AMQP_URL,
        BENCH_QUEUE=queue,
        LOG_LEVEL="WARNING",
    )
    log = project / f"{kind}-{queue}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=project,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            rate = asyncio.run(drain_time(queue, process, tasks))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            asyncio.run(delete_queue(queue))
    # A worker that does not know the task acknowledges and drops it, very fast.
    text = log.read_text()
    if "is not found" in text or "Traceback" in text:
        raise RuntimeError(f"the {kind} worker did not run the tasks:\n{text[-2000:]}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (both sides)")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp))
        rates: dict[str, list[float]] = {"tempest": [], "taskiq": []}
        for number in range(options.rounds):
            for kind in ("tempest", "taskiq") if number % 2 == 0 else ("taskiq", "tempest"):
                rate = one_round(project, kind, options.tasks, options.workers)
                rates[kind].append(rate)
                print(f"round {number + 1} {kind:8s} {rate:9.0f} tasks/s", flush=True)
    ours, bare = (statistics.median(rates[kind]) for kind in ("tempest", "taskiq"))
    print(
        f"{options.tasks} no-op tasks, {options.workers} worker process(es), "
        f"median of {options.rounds}:"
    )
    print(f"  manage.py worker : {ours:9.0f} tasks/s")
    print(f"  taskiq worker    : {bare:9.0f} tasks/s")
    print(f"  ratio            : {ours / bare:.2f}x (target >= 0.9x)")


if __name__ == "__main__":
    main()
