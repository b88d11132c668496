"""A user's first hour, as real subprocesses: startproject, startapp, check, routes, serve."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from subprocess import Popen

import pytest

from tests.helpers import PYTHON, clean_env, http, manage, run, serve_project, wait_for_http

pytestmark = pytest.mark.e2e


def server(project: Path, *args: str) -> AbstractContextManager[tuple[str, Popen[str]]]:
    """Run ``manage.py runserver``/``serve`` on a free port until the block ends.

    The test waits for the server itself; the output is kept in ``process.stdout``.
    """
    return serve_project(project, *args, wait=False, capture=True)


def test_startproject_writes_the_documented_files(shared_project: Path) -> None:
    expected = [
        "manage.py",
        "shop/__init__.py",
        "shop/settings.py",
        "shop/asgi.py",
        ".env",
        ".env.example",
        ".gitignore",
        "pyproject.toml",
        "README.md",
        "tests/conftest.py",
        "tests/test_smoke.py",
    ]
    for name in expected:
        assert (shared_project / name).is_file(), name
    assert not list(shared_project.rglob("*-tpl"))
    secret = next(
        line.split("=", 1)[1]
        for line in (shared_project / ".env").read_text().splitlines()
        if line.startswith("SECRET_KEY=")
    )
    assert len(secret) >= 50


def test_each_project_gets_its_own_secret_key(new_project: Callable[..., Path]) -> None:
    first = (new_project("alpha") / ".env").read_text()
    second = (new_project("beta") / ".env").read_text()
    assert first != second


def test_startapp_generates_the_layers_and_installs_the_app(shared_project: Path) -> None:
    app = shared_project / "orders"
    for name in [
        "apps.py",
        "models.py",
        "schemas.py",
        "repositories.py",
        "services.py",
        "controllers.py",
        "routers.py",
        "dependencies.py",
        "admin.py",
        "tasks.py",
        "seeds.py",
        "migrations",
        "tests/test_api.py",
    ]:
        assert (app / name).exists(), name
    settings = (shared_project / "shop" / "settings.py").read_text()
    assert '"orders",' in settings


def test_check_passes_on_a_new_project(shared_project: Path) -> None:
    result = manage(shared_project, "check")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_routes_lists_the_example_api_with_its_app(shared_project: Path) -> None:
    result = manage(shared_project, "routes")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert ["GET", "/api/orders/{order_id}", "get_order", "orders"] in rows
    assert ["POST", "/api/orders", "create_order", "orders"] in rows
    assert ["GET", "/health/liveness", "liveness", "tempest"] in rows
    only_orders = manage(shared_project, "routes", "--app", "orders")
    assert "/health/liveness" not in only_orders.stdout


def test_runserver_serves_the_example_api(shared_project: Path) -> None:
    with server(shared_project, "runserver", "--noreload") as (base, _):
        assert json.loads(wait_for_http(f"{base}/health/liveness"))["status"] == "ok"
        # Writes need a signed-in user (the project's own tests sign in); reads are public.
        status, body = http("POST", f"{base}/api/orders", b'{"name": "Coffee"}')
        assert status == 401, body
        assert json.loads(body)["code"] == "UNAUTHORIZED"
        status, body = http("GET", f"{base}/api/orders")
        assert status == 200, body
        assert "Coffee" not in [order["name"] for order in json.loads(body)["items"]]
        status, body = http("GET", f"{base}/api/orders/5b0e7a44-3c1e-4f55-9a0d-1b1f2f6c9d20")
        assert status == 404
        assert json.loads(body)["code"] == "ORDER_NOT_FOUND"
        status, body = http("GET", f"{base}/api/orders/not-a-uuid")
        assert status == 422
        assert json.loads(body)["code"] == "VALIDATION_ERROR"
        status, body = http("GET", f"{base}/health/readiness")
        assert status == 200
        assert json.loads(body)["checks"] == {"database": "ok"}


def test_runserver_reloads_on_code_and_env_changes(new_project: Callable[..., Path]) -> None:
    project = new_project("live", "notes")
    routers = project / "notes" / "routers.py"
    routers.write_text(
        routers.read_text()
        + '\n\n@router.get("/meta/version")\n'
        + 'async def version() -> dict[str, str]:\n    return {"v": "one"}\n'
    )
    with server(project, "runserver") as (base, process):
        assert json.loads(wait_for_http(f"{base}/api/notes/meta/version")) == {"v": "one"}
        routers.write_text(routers.read_text().replace('"one"', '"two"'))
        _wait_until(
            lambda: json.loads(wait_for_http(f"{base}/api/notes/meta/version")) == {"v": "two"}
        )
        env = project / ".env"
        env.write_text(env.read_text() + "TITLE=Reloaded\n")
        try:
            _wait_until(
                lambda: (
                    json.loads(wait_for_http(f"{base}/openapi.json"))["info"]["title"] == "Reloaded"
                )
            )
        except AssertionError:
            process.terminate()
            raise AssertionError(process.communicate()[0]) from None


def _wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except AssertionError:
            pass
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_serve_runs_several_workers(shared_project: Path) -> None:
    with server(shared_project, "serve", "--workers", "2") as (base, process):
        assert json.loads(wait_for_http(f"{base}/health/liveness"))["status"] == "ok"
    output = process.stdout.read() if process.stdout else ""
    assert output.count("Started server process") == 2, output


def test_the_generated_projects_own_tests_pass(shared_project: Path) -> None:
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], shared_project, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_shell_runs_code_with_top_level_await(shared_project: Path) -> None:
    code = (
        "async with Session() as session:\n"
        "    rows = (await session.scalars(select(OrderModel))).all()\n"
        "print(type(rows).__name__, settings.TITLE, OrderModel.__tablename__)"
    )
    result = manage(shared_project, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "list shop order"


def test_version(shared_project: Path) -> None:
    from tempest import __version__

    assert manage(shared_project, "version").stdout.strip() == __version__
    assert manage(shared_project, "--version").stdout.strip() == __version__


def test_startapp_empty_writes_stubs_that_pass_check(new_project: Callable[..., Path]) -> None:
    project = new_project()
    result = manage(project, "startapp", "blog", "--empty")
    assert result.returncode == 0, result.stderr
    assert "class" not in (project / "blog" / "models.py").read_text().replace("# class", "")
    assert manage(project, "check").returncode == 0
    routes = manage(project, "routes", "--app", "blog")
    assert routes.returncode == 0 and routes.stdout.strip().splitlines() == [
        "METHOD  PATH  NAME  APP"
    ]


def test_startapp_into_a_directory_uses_the_dotted_module(new_project: Callable[..., Path]) -> None:
    project = new_project()
    (project / "apps").mkdir()
    (project / "apps" / "__init__.py").write_text("")
    result = manage(project, "startapp", "billing", "apps/billing")
    assert result.returncode == 0, result.stderr
    assert '"apps.billing",' in (project / "mysite" / "settings.py").read_text()
    assert 'name = "apps.billing"' in (project / "apps" / "billing" / "apps.py").read_text()
    routes = manage(project, "routes", "--app", "billing")
    assert "/api/billing/{billing_id}" in routes.stdout, routes.stderr


def test_startproject_with_a_custom_template(tmp_path: Path) -> None:
    template = tmp_path / "template"
    (template / "project_name").mkdir(parents=True)
    (template / "project_name" / "settings.py-tpl").write_text("# settings of {{ project_name }}\n")
    (template / "NOTES.txt").write_text("copied as is: {{ project_name }}\n")
    result = run(
        [PYTHON, "-m", "tempest", "startproject", "custom", "--template", str(template)], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "custom" / "custom" / "settings.py").read_text() == "# settings of custom\n"
    assert (tmp_path / "custom" / "NOTES.txt").read_text() == "copied as is: {{ project_name }}\n"


def test_the_generated_projects_tests_pass_on_postgresql(shared_project: Path) -> None:
    import asyncio

    import asyncpg

    from tests.conftest import service_url

    url = service_url("TEMPEST_TEST_DATABASE_URL")
    env = clean_env(TEMPEST_TEST_DATABASE_URL=url)
    result = run([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], shared_project, 180, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout

    async def leftover_databases() -> list[str]:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await connection.fetch(
                "SELECT datname FROM pg_database WHERE datname = 'test_shop'"
            )
        finally:
            await connection.close()
        return [row["datname"] for row in rows]

    assert asyncio.run(leftover_databases()) == []  # created for the run, dropped after


def test_a_sync_test_asking_for_the_async_client_gets_a_clear_error(
    new_project: Callable[..., Path],
) -> None:
    project = new_project("mysite")
    (project / "tests" / "test_sync.py").write_text(
        "def test_sync(client):\n    assert client.get('/health/liveness')\n"
    )
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_sync.py"], project
    )
    assert result.returncode == 1
    assert (
        "test_sync uses client, db_session, which are async: write the test as `async def`"
        in result.stdout
    )


SCHEMA_TEST = """from sqlalchemy import inspect


async def test_the_schema(db_session):
    connection = await db_session.connection()
    tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    assert {"order", "made_by_a_migration", "blog"} <= set(tables), tables
"""


def test_the_test_database_is_built_by_the_migrations(new_project: Callable[..., Path]) -> None:
    project = new_project("shop", "orders")
    assert manage(project, "makemigrations", "orders").returncode == 0
    [revision] = (project / "orders" / "migrations").glob("*.py")
    revision.write_text(
        revision.read_text().replace(
            "    # ### end Alembic commands ###",
            "    op.create_table('made_by_a_migration', sa.Column('id', sa.Integer(), "
            "primary_key=True))",
            1,
        )
    )
    assert manage(project, "startapp", "blog").returncode == 0  # models, no migrations
    (project / "tests" / "test_schema.py").write_text(SCHEMA_TEST)
    result = run(
        [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_schema.py"], project
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runserver_warns_about_unapplied_migrations(new_project: Callable[..., Path]) -> None:
    project = new_project("shop", "orders")
    assert manage(project, "makemigrations").returncode == 0
    with server(project, "runserver", "--noreload") as (base, process):
        assert json.loads(wait_for_http(f"{base}/health/liveness"))["status"] == "ok"
    output = process.stdout.read() if process.stdout else ""
    # Four: three of the auth app, one of orders.
    assert "tempest.W023" in output and "4 unapplied migration(s)" in output, output
