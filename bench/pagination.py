"""Pagination on a 1,000,000-row PostgreSQL table through BaseRepository.

The table has 8 columns (the 4 of BaseModel + name, category, amount, note), default
ordering (created_at, id) with ten rows per created_at value, and only the indexes tempest
declares (BaseModel's (created_at, id)) plus, with --index-filter-column, the index the
model declares on ``category``. Each figure is the median of 20 runs: wall time of the
repository call and the time spent in its SQL statements (SQLAlchemy cursor events), and
the number of statements.

Targets: cursor_paginate at depth 500k <= 1.2x page 1; paginate page 1 unfiltered with
the estimated count <= 5 ms database time; a 1% equality filter <= 25 ms.

Usage: .venv/bin/python bench/pagination.py [--rows 1000000] [--index-filter-column]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Numeric, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import AsyncDatabaseManager, BaseModel, BaseRepository
from tempest.schemas import encode_cursor

SERVER_URL = os.environ.get(
    "TEMPEST_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
DATABASE = "bench_pagination"
RUNS = 20


def make_model(index_category: bool) -> type[BaseModel]:
    class BenchRow(BaseModel):
        __tablename__ = "bench_row"
        name: Mapped[str] = mapped_column(String(60))
        category: Mapped[int] = mapped_column(Integer, index=index_category)
        amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
        note: Mapped[str | None] = mapped_column(Text)

    return BenchRow


class StatementTimer:
    """Sums the time of every SQL statement the engine runs."""

    def __init__(self, manager: AsyncDatabaseManager) -> None:
        self.total = 0.0
        self.count = 0
        engine = manager.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: Any, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: Any, *args: Any) -> None:
        self.total += time.perf_counter() - conn.info.pop("bench_started")
        self.count += 1


async def create_database() -> str:
    from sqlalchemy.engine import make_url

    admin = AsyncDatabaseManager(SERVER_URL, isolation_level="AUTOCOMMIT")
    await admin.connect()
    async with admin.engine.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    await admin.disconnect()
    return make_url(SERVER_URL).set(database=DATABASE).render_as_string(hide_password=False)


async def fill(manager: AsyncDatabaseManager, model: type[BaseModel], rows: int) -> float:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    batch = 100_000
    for offset in range(0, rows, batch):
        values = [
            {
                "name": f"row {n}",
                "category": n % 100,
                "amount": Decimal(n % 10_000) / 100,
                "note": None if n % 3 else "note",
                "created_at": start + timedelta(seconds=n // 10),
            }
            for n in range(offset, min(offset + batch, rows))
        ]
        async with manager.request_session() as session:
            await BaseRepository(session, model=model).bulk_create_values(values)
    elapsed = time.perf_counter() - began
    async with manager.engine.connect() as connection:
        await connection.execute(text("COMMIT"))
        await connection.execute(text("VACUUM ANALYZE bench_row"))
    return elapsed


async def measure(
    manager: AsyncDatabaseManager, timer: StatementTimer, call: Callable[[Any], Awaitable[Any]]
) -> tuple[float, float, int]:
    walls, sqls, counts = [], [], []
    for run in range(RUNS + 2):
        async with manager.request_session() as session:
            timer.total, timer.count = 0.0, 0
            began = time.perf_counter()
            await call(session)
            if run >= 2:  # the first two warm the caches
                walls.append(time.perf_counter() - began)
                sqls.append(timer.total)
                counts.append(timer.count)
    return statistics.median(walls) * 1000, statistics.median(sqls) * 1000, max(counts)


async def main(rows: int, index_category: bool) -> None:
    url = await create_database()
    model = make_model(index_category)
    manager = AsyncDatabaseManager(url)
    await manager.connect()
    await manager.create_tables()
    print(
        f"filled {rows:,} rows with bulk_create_values in {await fill(manager, model, rows):.1f} s"
    )
    timer = StatementTimer(manager)

    async with manager.request_session() as session:
        deep = (
            await session.execute(
                text(
                    "SELECT created_at, id FROM bench_row ORDER BY created_at, id OFFSET :n LIMIT 1"
                ),
                {"n": rows // 2},
            )
        ).one()
    deep_cursor = encode_cursor(
        {"o": "created_at", "d": "asc", "v": deep.created_at, "id": deep.id}
    )

    def repo(session: Any, **options: Any) -> BaseRepository[Any]:
        return BaseRepository(session, model=model, **options)

    cases: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "cursor page 1": lambda s: repo(s).cursor_paginate(limit=20),
        "cursor at depth 500k": lambda s: repo(s).cursor_paginate(cursor=deep_cursor, limit=20),
        "paginate page 1, estimated total": lambda s: repo(s).paginate(page=1, page_size=20),
        "paginate page 1, exact total": lambda s: repo(s, estimate_count_above=0).paginate(
            page=1, page_size=20
        ),
        "paginate page 1, 1% filter": lambda s: repo(s).paginate(
            {"category": 7}, page=1, page_size=20
        ),
        "paginate last page, 1% filter": lambda s: repo(s).paginate(
            {"category": 7}, page=500, page_size=20
        ),
    }
    results = {}
    for name, call in cases.items():
        results[name] = await measure(manager, timer, call)
        wall, sql, count = results[name]
        print(f"{name:34} wall {wall:7.2f} ms   sql {sql:7.2f} ms   statements {count}")
    async with manager.request_session() as session:
        page = await repo(session).paginate(page=1, page_size=20)
    print(f"estimated total {page['total']:,} (exact: {page['total_is_exact']})")
    ratio = results["cursor at depth 500k"][0] / results["cursor page 1"][0]
    print(f"cursor depth 500k / page 1: {ratio:.2f}  (target <= 1.2)")
    await manager.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--index-filter-column", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(options.rows, options.index_filter_column))
