"""bulk_create_values of 100k rows x 8 columns vs asyncpg's copy_records_to_table.

Both insert the same rows into the same PostgreSQL table (emptied between runs): four
given columns per row (name, category, amount, note) plus the four of BaseModel (id,
is_active, created_at, updated_at), which bulk_create_values fills from the model's
defaults and the baseline fills by hand (uuid4 per row, one timestamp per batch), as code
using COPY directly has to. Each figure is the best of --runs runs.

Target: bulk_create_values <= 1.5x copy_records_to_table.

Usage: .venv/bin/python bench/bulk_insert.py [--rows 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
from sqlalchemy import Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tempest.db import AsyncDatabaseManager, BaseModel, BaseRepository

URL = os.environ.get(
    "TEMPEST_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
COLUMNS = ["id", "is_active", "created_at", "updated_at", "name", "category", "amount", "note"]


class BulkRow(BaseModel):
    __tablename__ = "bench_bulk_row"
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    note: Mapped[str | None] = mapped_column(Text)


def given_rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "name": f"row {n}",
            "category": n % 100,
            "amount": Decimal(n % 10_000) / 100,
            "note": None if n % 3 else "note",
        }
        for n in range(count)
    ]


async def main(count: int, runs: int) -> None:
    manager = AsyncDatabaseManager(URL)
    await manager.connect()
    async with manager.engine.begin() as connection:
        await connection.run_sync(BaseModel.metadata.drop_all, tables=[BulkRow.__table__])
        await connection.run_sync(BaseModel.metadata.create_all, tables=[BulkRow.__table__])
    raw = await asyncpg.connect(URL.replace("postgresql+asyncpg://", "postgresql://"))

    async def tempest() -> None:
        rows = given_rows(count)
        async with manager.request_session() as session:
            inserted = await BaseRepository(session, model=BulkRow).bulk_create_values(rows)
        assert inserted == count

    async def baseline() -> None:
        rows = given_rows(count)
        now = datetime.now(UTC)
        records = [
            (uuid.uuid4(), True, now, now, r["name"], r["category"], r["amount"], r["note"])
            for r in rows
        ]
        async with raw.transaction():
            await raw.copy_records_to_table("bench_bulk_row", records=records, columns=COLUMNS)

    best: dict[str, float] = {}
    for _ in range(runs):
        for name, run in (("bulk_create_values", tempest), ("copy_records_to_table", baseline)):
            await raw.execute("TRUNCATE bench_bulk_row")
            began = time.perf_counter()
            await run()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - began)
            assert await raw.fetchval("SELECT count(*) FROM bench_bulk_row") == count
    for name, seconds in best.items():
        print(f"{name:22} best {seconds:6.3f} s for {count:,} rows")
    print(
        f"ratio: {best['bulk_create_values'] / best['copy_records_to_table']:.2f}  (target <= 1.5)"
    )
    await raw.execute("DROP TABLE bench_bulk_row")
    await raw.close()
    await manager.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    asyncio.run(main(options.rows, options.runs))
