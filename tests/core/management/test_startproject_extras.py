"""``startproject --extras/--docker/--bind-host/--bind-port/--force`` and ``generate docker``.

The Dockerfile is checked with hadolint and the compose file against the Compose
specification's JSON schema (``check-jsonschema --builtin-schema vendor.compose-spec``,
offline) for every combination of the service extras: no Docker engine runs here, so the
image build itself is not tested.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tempest.conf import MinIOSettings, Settings
from tempest.core.management.extras import SERVICE_EXTRAS
from tests.helpers import one_line_error, run
from tests.warm import warm_manage as manage, warm_tempest as tempest

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
COMBINATIONS = [
    combination
    for size in range(len(SERVICE_EXTRAS) + 1)
    for combination in itertools.combinations(SERVICE_EXTRAS, size)
]
"""Every subset of postgres, redis, rabbitmq and s3 (16)."""


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is missing: install the dev dependencies"
    return found


def _project_name(combination: tuple[str, ...]) -> str:
    return "p_" + ("_".join(combination) or "none")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    """One project with --docker per combination of the service extras."""
    root = tmp_path_factory.mktemp("extras")
    projects: dict[tuple[str, ...], Path] = {}
    for combination in COMBINATIONS:
        name = _project_name(combination)
        extras = ",".join(combination)
        result = tempest(root, "startproject", name, "--extras", extras, "--docker", "-v0")
        assert result.returncode == 0, result.stderr
        projects[combination] = root / name
    return projects


def test_every_dockerfile_passes_hadolint(generated: dict[tuple[str, ...], Path]) -> None:
    dockerfiles = sorted({(project / "Dockerfile").read_text() for project in generated.values()})
    for text in dockerfiles:
        linted = subprocess.run(
            [_tool("hadolint"), "-"], input=text, capture_output=True, text=True, timeout=60
        )
        assert linted.returncode == 0 and not linted.stdout.strip(), linted.stdout + text


def test_every_compose_file_is_valid_and_every_service_has_a_healthcheck(
    generated: dict[tuple[str, ...], Path],
) -> None:
    files = [str(project / "docker-compose.yaml") for project in generated.values()]
    checked = run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *files],
        Path.cwd(),
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for combination, project in generated.items():
        compose = yaml.safe_load((project / "docker-compose.yaml").read_text())
        services = compose["services"]
        expected = {"migrate", "app", *combination}
        if "rabbitmq" in combination:
            expected |= {"worker", "scheduler"}
        assert set(services) == expected, combination
        for name, service in services.items():
            if name == "migrate":  # one-shot: it exits, so it has nothing to be healthy about
                assert service["command"] == ["python", "manage.py", "migrate"]
                assert "healthcheck" not in service
                continue
            assert service["healthcheck"]["test"], (combination, name)
        for name in ("app", "worker", "scheduler"):
            if name not in services:
                continue
            waits = services[name]["depends_on"]
            assert waits.pop("migrate") == {"condition": "service_completed_successfully"}
            assert waits == {server: {"condition": "service_healthy"} for server in combination}, (
                name
            )
        assert services["app"]["command"] == ["python", "manage.py", "serve", "--workers", "2"]
        if "postgres" in combination:
            assert services["migrate"]["depends_on"] == {
                "postgres": {"condition": "service_healthy"}
            }


def test_no_image_is_latest_and_the_image_runs_unprivileged(
    generated: dict[tuple[str, ...], Path],
) -> None:
    project = generated[tuple(SERVICE_EXTRAS)]
    dockerfile = (project / "Dockerfile").read_text()
    compose = (project / "docker-compose.yaml").read_text()
    assert "latest" not in dockerfile + compose
    images = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    images += re.findall(r"^\s+image: (\S+)", compose, re.MULTILINE)
    for image in images:
        assert re.search(r":\d[\w.-]*$|:RELEASE\.", image) or image.endswith(":local"), image
    assert len(re.findall(r"^FROM ", dockerfile, re.MULTILINE)) == 2  # multi-stage
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)
    assert int(user[0]) >= 10001 and int(user[1]) >= 10001
    assert "HEALTHCHECK" in dockerfile and "/health/readiness" in dockerfile
    assert 'CMD ["python", "manage.py", "serve"' in dockerfile
    assert "[dev]" not in dockerfile  # the runtime gets no dev tools
    ignored = (project / ".dockerignore").read_text().splitlines()
    assert {".env", ".git/", ".venv/", "tests/"} <= set(ignored)


def test_settings_env_and_dependencies_follow_the_extras(
    generated: dict[tuple[str, ...], Path],
) -> None:
    bare = generated[()]
    assert '"tempest-framework==' in (bare / "pyproject.toml").read_text()
    assert "sqlite+aiosqlite" in (bare / "p_none" / "settings.py").read_text()
    assert "REDIS_URL" not in (bare / ".env").read_text()

    full = generated[tuple(SERVICE_EXTRAS)]
    name = _project_name(tuple(SERVICE_EXTRAS))
    pyproject = (full / "pyproject.toml").read_text()
    assert '"tempest-framework[cache,minio,postgres,queue,tasks]==' in pyproject
    settings = (full / name / "settings.py").read_text()
    if not issubclass(Settings, MinIOSettings):  # the MINIO_* settings come from a mixin
        assert "(MinIOSettings, Settings)" in settings
    for setting in ('DATABASE_URL: str = "postgresql', "REDIS_URL", "TASKIQ_BROKER_URL"):
        assert setting in settings
    env, example = (full / ".env").read_text(), (full / ".env.example").read_text()
    for variable in ("DATABASE_URL=postgresql", "REDIS_URL=", "TASKIQ_BROKER_URL=amqp"):
        assert variable in env and variable in example
    assert "MINIO_SECRET_KEY=" in env and "POSTGRES_PASSWORD=" in env
    compose = (full / "docker-compose.yaml").read_text()
    for secret in ("POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "MINIO_SECRET_KEY"):
        assert f"${{{secret}:?" in compose  # compose takes it from .env


def test_bind_host_and_port_land_in_the_settings(tmp_path: Path) -> None:
    result = tempest(
        tmp_path, "startproject", "bound", "--bind-host", "0.0.0.0", "--bind-port", "9090"
    )
    assert result.returncode == 0, result.stderr
    loaded = run(
        [
            sys.executable,
            "-c",
            "from bound.settings import settings as s; print(s.SERVER_HOST, s.SERVER_PORT)",
        ],
        tmp_path / "bound",
    )
    assert loaded.stdout.split() == ["0.0.0.0", "9090"], loaded.stderr
    settings = (tmp_path / "bound" / "bound" / "settings.py").read_text()
    assert 'SERVER_HOST: str = "0.0.0.0"' in settings and "SERVER_PORT: int = 9090" in settings


def test_an_unknown_extra_is_refused_listing_the_known_ones(tmp_path: Path) -> None:
    result = tempest(tmp_path, "startproject", "shop", "--extras", "postgres,mongo")
    line = one_line_error(result)
    assert result.returncode == 2
    assert "'mongo'" in line
    assert "known extras: postgres, redis, rabbitmq, s3" in line
    assert not (tmp_path / "shop").exists()


@pytest.mark.parametrize("port", ["70000", "abc", "0"])
def test_a_bad_bind_port_is_one_line(tmp_path: Path, port: str) -> None:
    result = tempest(tmp_path, "startproject", "shop", "--bind-port", port)
    line = one_line_error(result)
    assert result.returncode == 2 and "--bind-port" in line and repr(port) in line
    assert not (tmp_path / "shop").exists()


def test_a_bad_bind_host_is_one_line(tmp_path: Path) -> None:
    result = tempest(tmp_path, "startproject", "shop", "--bind-host", "not a host")
    assert "--bind-host" in one_line_error(result)
    assert not (tmp_path / "shop").exists()


def test_force_lists_what_it_overwrites_and_touches_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / "here"
    (folder / "docs").mkdir(parents=True)
    (folder / "README.md").write_text("mine\n")
    (folder / "notes.txt").write_text("keep\n")
    (folder / "docs" / "plan.md").write_text("keep too\n")

    refused = tempest(tmp_path, "startproject", "shop", str(folder))
    assert "already exists and is not empty" in one_line_error(refused)
    assert sorted(path.name for path in folder.iterdir()) == ["README.md", "docs", "notes.txt"]

    forced = tempest(tmp_path, "startproject", "shop", str(folder), "--force")
    assert forced.returncode == 0, forced.stderr
    lines = forced.stdout.splitlines()
    assert lines[0] == f"Overwriting 1 existing file(s) in {folder}:"
    assert lines[1] == "  README.md"
    assert lines[2].startswith("Created project 'shop'")
    assert (folder / "README.md").read_text().startswith("# shop")
    assert (folder / "notes.txt").read_text() == "keep\n"
    assert (folder / "docs" / "plan.md").read_text() == "keep too\n"
    assert (folder / "shop" / "settings.py").is_file()


def test_generate_docker_follows_the_pinned_extras(tmp_path: Path) -> None:
    created = tempest(tmp_path, "startproject", "shop", "--extras", "postgres,rabbitmq")
    assert created.returncode == 0, created.stderr
    project = tmp_path / "shop"
    assert not (project / "Dockerfile").exists()
    written = manage(project, "generate", "docker")
    assert written.returncode == 0, written.stderr
    assert "Wrote Dockerfile, .dockerignore, docker-compose.yaml (postgres, rabbitmq)." in (
        written.stdout
    )
    services = yaml.safe_load((project / "docker-compose.yaml").read_text())["services"]
    assert set(services) == {"migrate", "app", "worker", "scheduler", "postgres", "rabbitmq"}

    (project / "Dockerfile").write_text("FROM scratch\n")
    again = manage(project, "generate", "docker")
    assert "already exist" in one_line_error(again) and "--force" in again.stderr
    assert (project / "Dockerfile").read_text() == "FROM scratch\n"
    forced = manage(project, "generate", "docker", "--force")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith(f"Overwriting 3 existing file(s) in {project}:\n")
    assert (project / "Dockerfile").read_text().startswith("# syntax=docker/dockerfile:1")


def test_every_generated_project_is_ruff_clean(generated: dict[tuple[str, ...], Path]) -> None:
    # Long names (p_postgres_redis_rabbitmq_s3) push lines past 100 characters: laid out.
    projects = [str(project) for project in generated.values()]
    for args in (["format", "--check"], ["check"]):
        for project in projects:
            done = run([_tool("ruff"), *args, "."], Path(project))
            assert done.returncode == 0, done.stdout + done.stderr
