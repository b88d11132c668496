"""GET one row by id on PostgreSQL: the startapp example vs hand-written FastAPI endpoints.

Three servers, one after the other, each a single uvicorn worker without access logs and
a pool of as many database connections as wrk keeps open, all reading the same PostgreSQL
table, loaded by wrk with the same settings:

- tempest: a fresh project's ``startapp`` example (router -> controller -> service ->
  repository -> request session), default MIDDLEWARE;
- fastapi-orm: ``await session.get(Model, id)`` with a new AsyncSession per request;
- fastapi-asyncpg: ``pool.fetchrow(...)`` on a raw asyncpg pool.

Targets: tempest >= 1.5x fastapi-orm and >= 0.6x fastapi-asyncpg.

Usage: .venv/bin/python bench/get_by_id.py [--seconds 10] [--connections 32] [--rounds 2]
Needs PostgreSQL (TEMPEST_TEST_DATABASE_URL, default postgresql+asyncpg://postgres@127.0.0.1:5432/test)
and wrk (installed with apt-get when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SERVER_URL = os.environ.get(
    "TEMPEST_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DATABASE = "bench_get_by_id"
ROWS = 10_000

BASELINE_ORM = """
import os
from datetime import datetime
from uuid import UUID

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import DateTime, String, Text, Uuid
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "order"
    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    is_active: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: UUID
    name: str
    description: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


engine = create_async_engine(
    os.environ["DATABASE_URL"], pool_size=int(os.environ["DATABASE_POOL_SIZE"]), max_overflow=0
)
Session = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


@app.get("/api/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: UUID) -> Order:
    async with Session() as session:
        return await session.get(Order, order_id)
"""

BASELINE_ASYNCPG = """
import os
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import UUID

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

pool = None


@asynccontextmanager
async def lifespan(app):
    global pool
    size = int(os.environ["DATABASE_POOL_SIZE"])
    pool = await asyncpg.create_pool(os.environ["ASYNCPG_DSN"], min_size=size, max_size=size)
    yield
    await pool.close()


class OrderOut(BaseModel):
    id: UUID
    name: str
    description: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


app = FastAPI(lifespan=lifespan)


@app.get("/api/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: UUID) -> dict:
    row = await pool.fetchrow(
        'SELECT id, name, description, is_active, created_at, updated_at FROM "order" WHERE id = $1',
        order_id,
    )
    return dict(row)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (apt-get install -y wrk)...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


async def prepare_database(url: str) -> str:
    """Create the bench database and return one order id (tables come from the project)."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    return dsn.rsplit("/", 1)[0] + f"/{DATABASE}"


async def fill(dsn: str) -> str:
    import uuid
    from datetime import UTC, datetime

    import asyncpg

    connection = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in range(ROWS)]
    await connection.copy_records_to_table(
        "order",
        records=[(i, True, now, now, f"order {n}", None) for n, i in enumerate(ids)],
        columns=["id", "is_active", "created_at", "updated_at", "name", "description"],
    )
    await connection.execute('ANALYZE "order"')
    await connection.close()
    return str(ids[ROWS // 2])


def serve(app: str, cwd: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=cwd,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/docs", timeout=1)
            return process, base
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{app} did not start")


def load(wrk: str, url: str, seconds: int, connections: int) -> float:
    body = urllib.request.urlopen(url, timeout=5).read()
    if b'"name"' not in body:
        raise SystemExit(f"unexpected response from {url}: {body[:200]!r}")
    subprocess.run(
        [wrk, "-t1", "-c", str(connections), "-d", "2s", url], check=True, capture_output=True
    )
    result = subprocess.run(
        [wrk, "-t1", "-c", str(connections), "-d", f"{seconds}s", url],
        check=True,
        capture_output=True,
        text=True,
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error responses\n{result.stdout}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]


def main(seconds: int, connections: int, rounds: int) -> None:
    wrk = ensure_wrk()
    dsn = asyncio.run(prepare_database(SERVER_URL))
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPEST_")}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        subprocess.run(
            [sys.executable, "-m", "tempest", "startproject", "benchshop"],
            cwd=root,
            check=True,
            env=base_env,
            capture_output=True,
        )
        project = root / "benchshop"
        env = {
            **base_env,
            "DATABASE_URL": database_url,
            "ASYNCPG_DSN": dsn,
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            # Every server keeps as many connections as wrk opens: none is opened per request.
            "DATABASE_POOL_SIZE": str(connections),
            "DATABASE_MAX_OVERFLOW": "0",
        }
        subprocess.run(
            [sys.executable, "manage.py", "startapp", "orders"],
            cwd=project,
            check=True,
            env=env,
            capture_output=True,
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", "await database.create_tables()"],
            cwd=project,
            check=True,
            env=env,
        )
        order_id = asyncio.run(fill(dsn))
        (project / "baseline_orm.py").write_text(BASELINE_ORM)
        (project / "baseline_asyncpg.py").write_text(BASELINE_ASYNCPG)
        targets = {
            "tempest": "benchshop.asgi:application",
            "fastapi-orm": "baseline_orm:app",
            "fastapi-asyncpg": "baseline_asyncpg:app",
        }
        results: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, app in targets.items():
                process, base = serve(app, project, env)
                try:
                    results[name].append(
                        load(wrk, f"{base}/api/orders/{order_id}", seconds, connections)
                    )
                finally:
                    process.terminate()
                    process.wait(timeout=20)
    best = {name: max(values) for name, values in results.items()}
    for name, values in results.items():
        print(
            f"{name:16} best {best[name]:9,.0f} req/s  (rounds: {', '.join(f'{v:,.0f}' for v in values)})"
        )
    print(
        f"tempest / fastapi-orm:     {best['tempest'] / best['fastapi-orm']:.2f}  (target >= 1.5)"
    )
    print(
        f"tempest / fastapi-asyncpg: {best['tempest'] / best['fastapi-asyncpg']:.2f}  (target >= 0.6)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    main(options.seconds, options.connections, options.rounds)
