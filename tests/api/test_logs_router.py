"""``make_logs_router``: GET /logs over the files configure_logging writes (in process).

The served project's test (tests/core/test_logging_served.py) covers the default guard
(administrators only) and bad input over HTTP; here the router is open (``dependencies=[]``)
or guarded by ``X-Token``, and the files are written by the real handlers.
"""

from __future__ import annotations

import json
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tempest.api import register_exception_handlers
from tempest.api.logs import make_logs_router
from tempest.api.logs_reader import LogSource, read_log_page
from tempest.core.logging import UNCAUGHT_500_FLAG, configure_logging

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("restore_root_logging")]

LOGGER = "tests.logs_router"


def _app(log_dir: Path | str, **options: object) -> FastAPI:
    app = FastAPI()
    register_exception_handlers(app)
    options.setdefault("dependencies", [])
    app.include_router(make_logs_router(log_dir, **options))  # type: ignore[arg-type]
    return app


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Real log files: 30 INFO lines, a warning, an error with a traceback, an uncaught 500."""
    configure_logging(level="DEBUG", log_dir=tmp_path)
    logger = logging.getLogger(LOGGER)
    for number in range(30):
        logger.info("order %d placed", number, extra={"order": number})
    # Lines of different files are merged by their millisecond timestamps.
    time.sleep(0.002)
    logger.warning("stock low")
    time.sleep(0.002)
    try:
        raise TimeoutError("gateway timeout")
    except TimeoutError:
        logger.exception("charge failed")
    time.sleep(0.002)
    logger.error("Unhandled RuntimeError", extra={UNCAUGHT_500_FLAG: True, "request_id": "r-500"})
    configure_logging(level="INFO")  # closes the files
    return tmp_path


@pytest.fixture
async def client(log_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(_app(log_dir))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_all_sources_newest_first(client: httpx.AsyncClient) -> None:
    answer = await client.get("/logs", params={"page_size": 5})

    assert answer.status_code == 200
    body = answer.json()
    assert [item["message"] for item in body["items"][:3]] == [
        "Unhandled RuntimeError",
        "charge failed",
        "stock low",
    ]
    assert body["items"][3]["message"] == "order 29 placed"
    assert body["items"][3]["extra"]["order"] == 29
    assert (body["total"], body["pages"], body["total_is_exact"]) == (33, 7, True)


async def test_one_source_and_the_isolated_500s(client: httpx.AsyncClient) -> None:
    errors = (await client.get("/logs", params={"source": "error"})).json()
    isolated = (await client.get("/logs", params={"source": "500"})).json()

    assert [item["message"] for item in errors["items"]] == [
        "Unhandled RuntimeError",
        "charge failed",
    ]
    [only] = isolated["items"]
    assert only["request_id"] == "r-500"


async def test_search_and_pages(client: httpx.AsyncClient) -> None:
    found = (await client.get("/logs", params={"q": "GATEWAY"})).json()
    second = await client.get("/logs", params={"source": "info", "page": 2, "page_size": 10})
    beyond = (await client.get("/logs", params={"source": "info", "page": 9})).json()

    [match] = found["items"]
    assert "TimeoutError: gateway timeout" in match["exception"]
    assert [item["extra"]["order"] for item in second.json()["items"]] == list(range(19, 9, -1))
    assert (beyond["items"], beyond["total"]) == ([], 30)


async def test_time_window(client: httpx.AsyncClient) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    after = (await client.get("/logs", params={"start": future})).json()
    before = (await client.get("/logs", params={"end": past})).json()
    inside = (await client.get("/logs", params={"start": past, "end": future})).json()

    assert after["total"] == before["total"] == 0
    assert inside["total"] == 33


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"source": "../../etc/passwd"}, "source"),
        ({"source": "secrets"}, "source"),
        ({"source": "500.log"}, "source"),
        ({"start": "31/05/2026"}, "start"),
        ({"end": "2026-02-30T00:00:00"}, "end"),
        ({"page": 10_001}, "page"),
        ({"page": 0}, "page"),
        ({"page_size": 201}, "page_size"),
        ({"q": "x" * 201}, "q"),
    ],
    ids=[
        "traversal",
        "unknown-source",
        "file-name",
        "malformed-start",
        "impossible-end",
        "huge-page",
        "page-zero",
        "huge-page-size",
        "huge-query",
    ],
)
async def test_bad_input_is_a_422(
    client: httpx.AsyncClient, params: dict[str, str | int], field: str
) -> None:
    answer = await client.get("/logs", params=params)

    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert field in json.dumps(body["details"])


@pytest.mark.parametrize("raw", ["q=%00", "q=%ED%A0%80", "q=%FF%FE", "source=%00", "start=%00"])
async def test_nul_surrogates_and_invalid_utf8_are_never_a_500(
    client: httpx.AsyncClient, raw: str
) -> None:
    answer = await client.get(f"/logs?{raw}")

    assert answer.status_code in (200, 422), answer.text  # a search for them finds nothing
    assert answer.json()


async def test_file_logging_off_is_a_404(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(_app(""))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/logs")

    assert answer.status_code == 404
    assert answer.json()["code"] == "LOGS_DISABLED"


async def test_a_missing_directory_is_an_empty_page(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(_app(tmp_path / "nothing-yet"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/logs")

    assert answer.status_code == 200
    assert (answer.json()["items"], answer.json()["total"]) == ([], 0)


async def test_token_guard(log_dir: Path) -> None:
    app = _app(log_dir, dependencies=None, token_secret="s3cret-for-logs")
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        missing = await http.get("/logs")
        wrong = await http.get("/logs", headers={"X-Token": "nope"})
        right = await http.get("/logs", headers={"X-Token": "s3cret-for-logs"})

    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)


def test_an_empty_token_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="token_secret must be a non-empty string"):
        make_logs_router(tmp_path, token_secret="")


def test_the_default_guard_is_the_admin_dependency(tmp_path: Path) -> None:
    router = make_logs_router(tmp_path)

    [guard] = router.dependencies
    assert guard.dependency is not None
    assert guard.dependency.__name__ == "require_admin"


def test_bad_lines_are_skipped_and_long_lines_do_not_fill_memory(tmp_path: Path) -> None:
    good = json.dumps(
        {"timestamp": "2026-05-31T08:00:00+00:00", "level": "INFO", "logger": "x", "message": "ok"}
    )
    with (tmp_path / "info.log").open("w") as handle:
        handle.write(good + "\n")
        handle.write("not json\n[1, 2]\n")
        handle.write('{"message": "' + "a" * 3_000_000 + '"}\n')  # longer than 1 MiB
        handle.write('{"level": "INFO"}\n')  # not a record: no timestamp, logger, message
        for _ in range(20_000):
            handle.write(good + "\n")

    tracemalloc.start()
    try:
        page = read_log_page(tmp_path, LogSource.INFO, page=2, page_size=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [entry.message for entry in page.items] == ["ok"] * 10
    assert page.total_is_exact is False  # 20,001 good lines: counted up to the budget
    assert page.total >= 10_020
    assert peak < 8 * 1024 * 1024  # a 5 MB file, never read whole
