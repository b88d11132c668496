"""The admin's list view on a 1,000,000-row PostgreSQL table with one foreign key.

Tables live in their own schema (``bench_admin``), so a test run resetting ``public`` does
not touch them; they are dropped at the end unless --keep. ``bench_admin_customer`` has
1,000 rows; ``bench_admin_order`` has --rows rows (default 1,000,000) loaded by one
``INSERT ... SELECT generate_series``, each pointing at a customer, with only the indexes a
user would have: the primary key, BaseModel's ``(created_at, id)`` and the foreign key's
index (``index=True``). Two rows share each ``created_at`` (the tie-breaker is exercised);
one row in 100 has the word "zephyr" in its title, so ``?q=zephyr`` matches exactly 1%
(and "quokka" 0.1%); one row in 10 is inactive. With --trgm the search columns also get
pg_trgm GIN indexes (the extension is created inside the bench schema), to compare.

The model is registered with list_display (including the foreign key, shown as the
customer's name), search_fields over two text columns, list_filter on is_active and
page_size 50; the router is ``make_admin_router`` with ``UserModelAuthBackend`` on a user
table. Requests go through httpx's ASGITransport after signing in. Server time is the time
the ASGI app takes to answer (measured around the app call); each figure is over 20 runs
after 2 warm-up runs. SQL statements are counted with a ``before_cursor_execute`` listener.

Target (issue 6): page 1, a deep page (page 20,000, reached by an ``?after=`` cursor) and a
1% search each <= 100 ms median server time, <= 4 statements per page.

Usage: .venv/bin/python bench/admin_list.py [--rows 1000000] [--keep] [--reuse] [--explain]
       [--trgm]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, event, select, text
from sqlalchemy.orm import Mapped, mapped_column

from tempest.contrib.admin import AdminModel, AdminSite, UserModelAuthBackend, make_admin_router
from tempest.contrib.auth.base import BaseUserModel
from tempest.db import AsyncDatabaseManager, BaseModel
from tempest.db.repository.keyset import cursor_payload
from tempest.db.repository.ordering import Ordering
from tempest.schemas import encode_cursor

DATABASE_URL = os.environ.get(
    "TEMPEST_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SCHEMA = "bench_admin"
RUNS = 20
WARMUP = 2
TARGET_MS = 100.0
MAX_STATEMENTS = 4
SEARCH_TERM = "zephyr"
RARE_TERM = "quokka"
EMAIL = "bench-admin@example.com"
PASSWORD = "bench-admin-password"
SECRET = "bench-admin-secret-key-0123456789abcdef"


class BenchCustomer(BaseModel):
    __tablename__ = "bench_admin_customer"
    __table_args__ = {"schema": SCHEMA}
    name: Mapped[str] = mapped_column(String(80))
    city: Mapped[str] = mapped_column(String(60))


class BenchOrder(BaseModel):
    __tablename__ = "bench_admin_order"
    __table_args__ = {"schema": SCHEMA}
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(BenchCustomer.id, ondelete="CASCADE"), index=True
    )
    reference: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class BenchUser(BaseUserModel):
    __tablename__ = "bench_admin_user"
    __table_args__ = {"schema": SCHEMA}


TABLES = [
    BaseModel.metadata.tables[f"{SCHEMA}.{name}"]
    for name in ("bench_admin_user", "bench_admin_customer", "bench_admin_order")
]

_CUSTOMERS_SQL = f"""
INSERT INTO {SCHEMA}.bench_admin_customer (id, is_active, created_at, updated_at, name, city)
SELECT gen_random_uuid(), true, ts, ts, 'Customer ' || lpad(n::text, 4, '0'),
       (ARRAY['Lisbon', 'Porto', 'Oslo', 'Lyon', 'Turin'])[1 + n % 5]
FROM generate_series(1, 1000) AS n,
     LATERAL (SELECT timestamptz '2023-01-01 00:00:00+00' + make_interval(days => n)) AS t(ts)
"""

# Words never contain "zephyr" or "quokka"; one row in 100 (n % 100 = 42) gets "zephyr" in
# its title, one in 1,000 (n % 1000 = 421) "quokka".
_ORDERS_SQL = f"""
INSERT INTO {SCHEMA}.bench_admin_order
    (id, is_active, created_at, updated_at, customer_id, reference, title, amount)
SELECT gen_random_uuid(), n % 10 <> 3, ts, ts,
       c.ids[1 + (n * 7919) % array_length(c.ids, 1)],
       'ORD-' || lpad(n::text, 8, '0'),
       (ARRAY['Red', 'Blue', 'Green', 'Amber', 'Black', 'White', 'Grey'])[1 + n % 7] || ' '
         || (ARRAY['widget', 'gadget', 'bracket', 'hinge', 'socket', 'valve', 'lever',
                   'spring', 'gasket', 'washer', 'bolt'])[1 + (n / 7) % 11]
         || CASE WHEN n % 100 = 42 THEN ' {SEARCH_TERM}' ELSE '' END
         || CASE WHEN n % 1000 = 421 THEN ' {RARE_TERM}' ELSE '' END
         || ' #' || (n % 997),
       ((n * 37) % 100000) / 100.0
FROM generate_series(1::bigint, :rows) AS n,
     (SELECT array_agg(id ORDER BY name) AS ids FROM {SCHEMA}.bench_admin_customer) AS c,
     LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => n / 2)) AS t(ts)
"""


@dataclass
class Recorder:
    """The statements the engine runs, with their time and parameters."""

    statements: list[tuple[str, Any, float]] = field(default_factory=list)

    def attach(self, manager: AsyncDatabaseManager) -> None:
        engine = manager.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_started")
        self.statements.append((statement, parameters, elapsed))


class TimedApp:
    """Wraps an ASGI app and records how long each call takes: the server time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last = time.perf_counter() - began


@dataclass
class Result:
    name: str
    url: str
    server: list[float] = field(default_factory=list)
    client: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    statements: list[list[tuple[str, Any, float]]] = field(default_factory=list)
    rows: int = 0
    count_text: str = ""
    required: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.server) * 1000

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.server, n=10)[8] * 1000


def abbreviate(statement: str, width: int = 150) -> str:
    flat = re.sub(r"\s+", " ", statement).strip()
    flat = re.sub(rf"{SCHEMA}\.bench_admin_|bench_admin_", "", flat)

    def columns(match: re.Match[str]) -> str:
        listed = match.group(1)
        if len(listed) <= 40:
            return match.group(0)
        return f"SELECT <{listed.count(',') + 1} columns> FROM "

    flat = re.sub(r"SELECT (.*?) FROM ", columns, flat, count=1)
    return flat if len(flat) <= width else flat[: width - 3] + "..."


async def prepare(manager: AsyncDatabaseManager, rows: int, reuse: bool, trgm: bool) -> None:
    async with manager.engine.connect() as connection:
        if reuse:
            existing = await connection.scalar(
                text("SELECT to_regclass(:name) IS NOT NULL"),
                {"name": f"{SCHEMA}.bench_admin_order"},
            )
            if existing:
                count = await connection.scalar(
                    text(f"SELECT count(*) FROM {SCHEMA}.bench_admin_order")
                )
                if count == rows:
                    print(f"reusing {SCHEMA}.bench_admin_order ({rows:,} rows)")
                    await connection.execute(text(f"DELETE FROM {SCHEMA}.bench_admin_user"))
                    await connection.commit()
                    await trigram_indexes(manager, trgm)
                    return
        await connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await connection.run_sync(lambda sync: BaseModel.metadata.create_all(sync, tables=TABLES))
        await connection.commit()
        began = time.perf_counter()
        await connection.execute(text(_CUSTOMERS_SQL))
        await connection.execute(text(_ORDERS_SQL), {"rows": rows})
        await connection.commit()
        loaded = time.perf_counter() - began
    async with manager.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        began = time.perf_counter()
        for table in ("bench_admin_customer", "bench_admin_order"):
            await connection.execute(text(f"VACUUM ANALYZE {SCHEMA}.{table}"))
        vacuumed = time.perf_counter() - began
    print(
        f"loaded 1,000 customers and {rows:,} orders in {loaded:.1f} s "
        f"(INSERT ... SELECT generate_series, indexes in place); VACUUM ANALYZE {vacuumed:.1f} s"
    )
    async with manager.engine.connect() as connection:
        for term in (SEARCH_TERM, RARE_TERM):
            hits = await connection.scalar(
                text(
                    f"SELECT count(*) FROM {SCHEMA}.bench_admin_order "
                    "WHERE reference ILIKE :p OR title ILIKE :p"
                ),
                {"p": f"%{term}%"},
            )
            print(f"  {term!r} matches {hits:,} rows ({100 * (hits or 0) / rows:.2f}%)")
    await trigram_indexes(manager, trgm)


async def trigram_indexes(manager: AsyncDatabaseManager, wanted: bool) -> None:
    """Add (or drop) pg_trgm GIN indexes on the two search columns."""
    names = {
        "reference": "ix_bench_admin_order_reference_trgm",
        "title": "ix_bench_admin_order_title_trgm",
    }
    async with manager.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        if not wanted:
            for name in names.values():
                await connection.execute(text(f"DROP INDEX IF EXISTS {SCHEMA}.{name}"))
            return
        await connection.execute(text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {SCHEMA}"))
        began = time.perf_counter()
        for column, name in names.items():
            await connection.execute(
                text(
                    f"CREATE INDEX IF NOT EXISTS {name} ON {SCHEMA}.bench_admin_order "
                    f"USING gin ({column} {SCHEMA}.gin_trgm_ops)"
                )
            )
        await connection.execute(text(f"ANALYZE {SCHEMA}.bench_admin_order"))
        print(f"pg_trgm GIN indexes on reference and title: {time.perf_counter() - began:.1f} s")


async def create_admin_user(manager: AsyncDatabaseManager) -> None:
    user = BenchUser(email=EMAIL, is_admin=True, is_active=True)
    user.set_password(PASSWORD)
    async with manager.session_factory() as session:
        session.add(user)
        await session.commit()


def make_site() -> AdminSite:
    site = AdminSite(title="Bench")
    site.register(AdminModel(model=BenchCustomer, search_fields=["name"], page_size=50))
    site.register(
        AdminModel(
            model=BenchOrder,
            list_display=["reference", "title", "customer_id", "amount", "is_active", "created_at"],
            search_fields=["reference", "title"],
            list_filter=["is_active"],
            page_size=50,
        )
    )
    return site


async def log_in(client: Any) -> None:
    form_page = await client.get("/admin/login")
    form_page.raise_for_status()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
    assert token is not None, "no CSRF token on the login page"
    response = await client.post(
        "/admin/login",
        data={
            "csrf_token": html.unescape(token.group(1)),
            "username": EMAIL,
            "password": PASSWORD,
            "next": "/admin/",
        },
    )
    assert response.status_code == 303, (response.status_code, response.text[:500])


def row_ids(page: str) -> list[str]:
    return re.findall(r'name="ids" value="([0-9a-f-]{36})"', page)


def link(page: str, rel: str) -> str:
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', page)
    assert found is not None, f"no {rel} link on the page"
    href = html.unescape(found.group(1))
    assert href.startswith("?"), href
    return href


def count_text(page: str) -> str:
    found = re.search(r'data-testid="count">(.*?)</span>', page, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip() if found else "?"


async def cursor_after_row(manager: AsyncDatabaseManager, position: int) -> str:
    """The ``after`` cursor of the row at 1-based ``position`` in the default order."""
    ordering = Ordering(BenchOrder, "created_at", True)
    async with manager.request_session() as session:
        row = await session.scalar(
            select(BenchOrder).order_by(*ordering.clauses()).offset(position - 1).limit(1)
        )
    assert row is not None
    return encode_cursor(cursor_payload(ordering, row))


async def measure(
    client: Any, app: TimedApp, recorder: Recorder, name: str, url: str, required: bool
) -> Result:
    result = Result(name, url, required=required)
    for run in range(WARMUP + RUNS):
        recorder.statements.clear()
        began = time.perf_counter()
        response = await client.get(url)
        client_time = time.perf_counter() - began
        assert response.status_code == 200, (name, response.status_code, response.text[:300])
        if run < WARMUP:
            continue
        result.server.append(app.last)
        result.client.append(client_time)
        result.sql.append(sum(elapsed for _, _, elapsed in recorder.statements))
        result.counts.append(len(recorder.statements))
        result.statements.append(list(recorder.statements))
        result.rows = len(row_ids(response.text))
        result.count_text = count_text(response.text)
    return result


async def explain(manager: AsyncDatabaseManager, statement: str, parameters: Any) -> str:
    async with manager.engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        )
        return "\n".join("      " + line for (line,) in result.all())


def print_results(results: list[Result]) -> None:
    header = (
        f"{'case':44} {'median':>8} {'p90':>8} {'client':>8} {'sql':>8} {'stmts':>5} "
        f"{'rows':>4}  count shown"
    )
    print()
    print(f"server time in ms over {RUNS} runs after {WARMUP} warm-up runs")
    print(header)
    print("-" * len(header))
    for result in results:
        flag = ""
        if result.required:
            ok = result.median <= TARGET_MS and max(result.counts) <= MAX_STATEMENTS
            flag = "  ok" if ok else "  FAIL"
        print(
            f"{result.name:44} {result.median:8.1f} {result.p90:8.1f} "
            f"{statistics.median(result.client) * 1000:8.1f} "
            f"{statistics.median(result.sql) * 1000:8.1f} {max(result.counts):5d} "
            f"{result.rows:4d}  {result.count_text}{flag}"
        )
    print(
        f"\nrequired cases (marked ok/FAIL): median <= {TARGET_MS:.0f} ms and <= "
        f"{MAX_STATEMENTS} statements; 'sql' is the median time spent inside statements."
    )


def print_statements(results: list[Result]) -> None:
    print("\nstatements per request (median time of each over the runs):")
    for result in results:
        print(f"  {result.name}  [{result.url[:90]}]")
        per_position = list(zip(*result.statements, strict=False))
        for index, runs in enumerate(per_position, start=1):
            statement = runs[0][0]
            elapsed = statistics.median(run[2] for run in runs) * 1000
            print(f"    {index}. {elapsed:7.2f} ms  {abbreviate(statement)}")


async def main(rows: int, keep: bool, reuse: bool, always_explain: bool, trgm: bool) -> None:
    import httpx
    from fastapi import FastAPI

    manager = AsyncDatabaseManager(DATABASE_URL)
    await manager.connect()
    try:
        await prepare(manager, rows, reuse, trgm)
        await create_admin_user(manager)
        site = make_site()
        fastapi_app = FastAPI()
        fastapi_app.include_router(
            make_admin_router(
                site,
                secret_key=SECRET,
                db=manager,
                auth_backend=UserModelAuthBackend(BenchUser),
                cookie_secure=False,
                show_metrics=False,
            )
        )
        app = TimedApp(fastapi_app)
        recorder = Recorder()
        recorder.attach(manager)
        base = "/admin/m/bench_admin_order/"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await log_in(client)
            deep_position = max(rows - 50, 1)
            deep = await cursor_after_row(manager, deep_position)
            middle = await cursor_after_row(manager, rows // 2)
            last_page = (await client.get(f"{base}?last=1")).text
            prev_of_last = base + link(last_page, "prev")
            search_page = (await client.get(f"{base}?q={SEARCH_TERM}")).text
            search_next = base + link(search_page, "next")
            deep_page = (await client.get(f"{base}?after={deep}")).text
            same = row_ids(deep_page) == row_ids(last_page)
            print(
                f"page {(deep_position + 50) // 50:,} via ?after= (rows {deep_position + 1:,}.."
                f"{deep_position + 50:,}) has the rows of ?last=1: {'yes' if same else 'NO'}"
            )
            cases: list[tuple[str, str, bool]] = [
                ("page 1", base, True),
                (
                    f"page {(deep_position + 50) // 50:,} (?after= cursor of row {deep_position:,})",
                    f"{base}?after={deep}",
                    True,
                ),
                ("last page (?last=1)", f"{base}?last=1", True),
                (f"search ?q={SEARCH_TERM} (1% of rows), page 1", f"{base}?q={SEARCH_TERM}", True),
                ("prev of last page (?before= cursor)", prev_of_last, False),
                (f"middle page (?after= row {rows // 2:,})", f"{base}?after={middle}", False),
                (f"search ?q={SEARCH_TERM}, page 2 (?after=)", search_next, False),
                ("filter is_active=false (10%), page 1", f"{base}?filter_is_active=false", False),
                (f"search ?q={RARE_TERM} (0.1% of rows), page 1", f"{base}?q={RARE_TERM}", False),
                ("search matching no row (?q=nomatch)", f"{base}?q=nomatch", False),
                ("sort by reference (no index), page 1", f"{base}?sort=reference&dir=asc", False),
            ]
            results = [
                await measure(client, app, recorder, name, url, required)
                for name, url, required in cases
            ]
        print_results(results)
        print_statements(results)
        for result in results:
            if not (always_explain or result.median > TARGET_MS):
                continue
            slowest = max(result.statements[-1], key=lambda item: item[2])
            print(f"\nEXPLAIN ANALYZE of the slowest statement of '{result.name}':")
            print(f"    {abbreviate(slowest[0], 400)}")
            print(f"    parameters: {slowest[1]!r}"[:300])
            print(await explain(manager, slowest[0], slowest[1]))
    finally:
        if not keep:
            async with manager.engine.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            print(f"\ndropped schema {SCHEMA}")
        else:
            print(f"\nkept schema {SCHEMA} (drop it with DROP SCHEMA {SCHEMA} CASCADE)")
        await manager.disconnect()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the tables afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse tables kept by --keep with the same --rows"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="EXPLAIN ANALYZE the slowest statement of every case, not only of slow ones",
    )
    parser.add_argument(
        "--trgm",
        action="store_true",
        help="also index the search columns with pg_trgm GIN indexes (a comparison)",
    )
    options = parser.parse_args()
    asyncio.run(main(options.rows, options.keep, options.reuse, options.explain, options.trgm))
