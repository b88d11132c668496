"""A project served by ``manage.py serve`` with LOG_JSON on: every line it writes is JSON.

One generated project (SQLite, the auth app's tables migrated, an administrator and a plain
user) with an ``ops`` app whose route runs SQL (``DATABASE_ECHO``), logs with fields that
collide with LogRecord attributes, logs a message whose arguments do not match its format,
and kicks a task (the in-process broker); another route raises. It is served by
``manage.py serve --workers 2`` with ``LOG_JSON`` and ``LOG_DIR``. Every line of the
server's stdout and stderr is a JSON object, except the command's own "Serving on" line;
the lines of a request (uvicorn's access line, its SQL, its task, the 500's lines from the
exception handler and from uvicorn) carry its request ID. ``GET /api/ops/logs``
(``make_logs_router()``, administrators only by default) reads the files back, and refuses
bad input with 422.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_url
from tests.helpers import PYTHON, clean_env, serve_project, stop_group
from tests.services import delete_task_queue
from tests.warm import warm_manage, warm_tempest

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple 42"
ADMIN = "root@example.com"
USER = "ana@example.com"

ROUTERS = '''\
"""Routes exercising the logs: SQL, a task, colliding fields, an error."""

import logging

from fastapi import APIRouter, Depends
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from tempest import LogUtils, make_logs_router, make_tool_spec_router
from tempest.db import get_session

from ops.tasks import note

router = APIRouter()
log = LogUtils("ops")
plain = logging.getLogger("ops.plain")


@router.get("/work")
async def work(session: AsyncSession = Depends(get_session)) -> dict[str, int]:
    value = await session.scalar(text("SELECT 41 + 1"))
    log.info("work_done", message="collides", name="x", args=[1], value=value)
    plain.warning("plain %s", "warning", extra=LogUtils.extra(message="m", asctime="t"))
    plain.info("bad %d format", "not-a-number")
    handle = await note.kiq("hello")
    await handle.wait_result(timeout=10)
    return {"value": value}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("kaboom")


router.include_router(make_logs_router())
router.include_router(make_tool_spec_router())
'''

TASKS = '''\
"""A task whose log line carries the request ID of the request that kicked it."""

from tempest import LogUtils
from tempest.tasks import task

log = LogUtils("ops.tasks")


@task
async def note(text: str) -> str:
    log.info("task_ran", text=text)
    return text
'''


@dataclass
class Served:
    base: str
    project: Path
    process: Any
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("logs")
    created = warm_tempest(root, "startproject", "shop")
    assert created.returncode == 0, created.stderr
    project = root / "shop"
    app = project / "ops"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "routers.py").write_text(ROUTERS)
    (app / "tasks.py").write_text(TASKS)
    settings = project / "shop" / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            '"tempest.contrib.admin",\n', '"tempest.contrib.admin",\n        "ops",\n'
        )
    )
    env = {
        "LOG_JSON": "true",
        "LOG_DIR": str(root / "logs"),
        "DATABASE_ECHO": "true",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "AUTH_PASSWORD_HASH_ROUNDS": "4",
    }
    migrated = warm_manage(project, "migrate", **env)  # type: ignore[arg-type]
    assert migrated.returncode == 0, migrated.stderr
    for email, flag in ((ADMIN, "--admin"), (USER, "--no-admin")):
        args = ("user", "create", "--email", email, "--password", PASSWORD, flag)
        made = warm_manage(project, *args, **env)  # type: ignore[arg-type]
        assert made.returncode == 0, made.stderr
    with serve_project(
        project, "serve", "--workers", "2", "--skip-checks", env=env, capture=True
    ) as (base, process):
        state = Served(base, project, process, env)
        for email in (ADMIN, USER):
            answer = httpx.post(
                f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            state.tokens[email] = answer.json()["access_token"]
        _requests(state)
        yield state


REQUESTS = {"work": "req-work-0001", "boom": "req-boom-0001"}


def _requests(state: Served) -> None:
    work = httpx.get(f"{state.base}/api/ops/work", headers={"X-Request-ID": REQUESTS["work"]})
    assert work.status_code == 200, work.text
    boom = httpx.get(f"{state.base}/api/ops/boom", headers={"X-Request-ID": REQUESTS["boom"]})
    assert boom.status_code == 500, boom.text
    time.sleep(0.3)  # the access lines are written after the responses


def _get(state: Served, path: str, email: str | None = ADMIN, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {state.tokens[email]}"} if email else {}
    return httpx.get(f"{state.base}{path}", params=params, headers=headers)


# -- /logs over HTTP (while the server runs) ------------------------------------------


def test_admins_read_the_isolated_500s(served: Served) -> None:
    answer = _get(served, "/api/ops/logs", source="500")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    [entry] = body["items"]
    assert entry["request_id"] == REQUESTS["boom"]
    assert "RuntimeError: kaboom" in entry["exception"]
    assert (body["total"], body["total_is_exact"]) == (1, True)


def test_logs_search_by_text(served: Served) -> None:
    answer = _get(served, "/api/ops/logs", q="TASK_RAN")

    assert answer.status_code == 200, answer.text
    [entry] = answer.json()["items"]
    assert entry["extra"]["text"] == "hello"
    assert entry["request_id"] == REQUESTS["work"]


def test_logs_need_a_token(served: Served) -> None:
    answer = _get(served, "/api/ops/logs", email=None)

    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"


def test_logs_are_for_administrators_only(served: Served) -> None:
    answer = _get(served, "/api/ops/logs", email=USER)

    assert answer.status_code == 403
    assert answer.json()["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "params",
    [
        {"source": "../../etc/passwd"},
        {"source": "passwd"},
        {"start": "2026-13-45T99:00"},
        {"end": "yesterday"},
        {"page": "100000000"},
        {"page_size": "1000000"},
    ],
    ids=["traversal", "unknown-source", "bad-start", "bad-end", "huge-page", "huge-page-size"],
)
def test_bad_input_is_a_422(served: Served, params: dict[str, str]) -> None:
    answer = _get(served, "/api/ops/logs", **params)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "VALIDATION_ERROR"
    assert "root:" not in answer.text


def test_tool_spec_lists_the_operations(served: Served) -> None:
    answer = httpx.get(f"{served.base}/api/ops/tool-spec")

    assert answer.status_code == 200
    names = {tool["path"]: tool for tool in answer.json()["tools"]}
    assert "/api/ops/work" in names
    assert "/api/ops/tool-spec" not in names
    assert names["/api/auth/login"]["parameters"]["properties"]["body"]["type"] == "object"


# -- manage.py worker ------------------------------------------------------------------


def _read_until(process: subprocess.Popen[str], text: str, timeout: float = 30) -> list[str]:
    """The lines ``process`` writes until one contains ``text``."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if not ready:
            continue
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    raise AssertionError(f"no line with {text!r} within {timeout}s:\n" + "\n".join(lines))


def test_worker_lines_are_json(served: Served) -> None:
    amqp = service_url("TEMPEST_TEST_AMQP_URL")
    queue = f"tempest-logs-{secrets.token_hex(4)}"
    process = subprocess.Popen(
        [PYTHON, "manage.py", "worker", "--workers", "1", "--queue", queue],
        cwd=served.project,
        env=clean_env(**served.env, TASKIQ_BROKER_URL=amqp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = _read_until(process, "Listening started")
    finally:
        stop_group(process)
        asyncio.run(delete_task_queue(amqp, queue))
    assert process.stdout is not None
    lines += process.stdout.read().splitlines()

    assert lines[0].startswith("Starting 1 worker process(es)")  # the command's own line
    records = [json.loads(line) for line in lines[1:]]
    assert {"taskiq.worker", "taskiq.receiver.receiver"} <= {r["logger"] for r in records}


# -- the server's output (read once the server stopped) --------------------------------


@pytest.fixture(scope="module")
def records(served: Served) -> list[dict[str, Any]]:
    """Every line the server wrote, parsed; runs after the HTTP tests (module teardown
    order does not allow reading the output earlier), so it stops the server itself."""
    stop_group(served.process)
    assert served.process.stdout is not None
    lines = served.process.stdout.read().splitlines()
    parsed = []
    for line in lines:
        if line.startswith("Serving on http://") or "keep state in each worker's memory" in line:
            continue  # the command's own output (click.echo), before logging starts
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\n" + "\n".join(lines))
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def _of(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [record for record in records if record.get("request_id") == REQUESTS[name]]


def test_every_line_is_json_and_the_request_lines_carry_its_id(
    records: list[dict[str, Any]],
) -> None:
    work = _of(records, "work")
    loggers = {record["logger"] for record in work}
    assert {"uvicorn.access", "sqlalchemy.engine.Engine", "ops", "ops.plain"} <= loggers
    assert "ops.tasks" in loggers  # the task the request kicked
    # No SQL of the request without the ID.
    sql = [record for record in records if "SELECT 41 + 1" in record["message"]]
    assert sql
    assert all(record["request_id"] == REQUESTS["work"] for record in sql)


def test_uvicorn_access_lines_are_structured(records: list[dict[str, Any]]) -> None:
    [access] = [r for r in _of(records, "work") if r["logger"] == "uvicorn.access"]

    assert (access["method"], access["path"], access["status_code"]) == (
        "GET",
        "/api/ops/work",
        200,
    )


def test_colliding_fields_are_renamed_not_fatal(records: list[dict[str, Any]]) -> None:
    work = _of(records, "work")
    [done] = [r for r in work if r["message"] == "work_done"]
    [plain] = [r for r in work if r["message"] == "plain warning"]
    [bad] = [r for r in work if r["logger"] == "ops.plain" and r["level"] == "INFO"]

    assert (done["extra_message"], done["extra_name"], done["extra_args"]) == ("collides", "x", [1])
    assert done["value"] == 42
    assert (plain["extra_message"], plain["extra_asctime"]) == ("m", "t")
    assert "bad %d format" in bad["message"]


def test_the_500_lines_carry_the_request_id(records: list[dict[str, Any]]) -> None:
    boom = _of(records, "boom")
    errors = [record for record in boom if record["level"] == "ERROR"]

    assert {record["logger"] for record in errors} >= {"tempest.request", "uvicorn.error"}
    assert all("RuntimeError: kaboom" in record["exception"] for record in errors)
    [access] = [r for r in boom if r["logger"] == "uvicorn.access"]
    assert access["status_code"] == 500
