"""Write generated files into an existing project: ``generate docker``."""

from __future__ import annotations

import os

import click

from tempest.conf.environ import ENVIRONMENT_VARIABLE
from tempest.core.management.base import CommandError, echo

requires_setup = False  # reads pyproject.toml and the settings module's name only


@click.group()
def command() -> None:
    """Write generated files into an existing project."""


@command.command("docker")
@click.option("--force", is_flag=True, help="Overwrite the files that exist (listed first).")
def docker(force: bool) -> None:
    """Write a Dockerfile, .dockerignore and docker-compose.yaml for this project.

    The compose services follow the extras pinned in pyproject.toml's tempest-framework
    dependency (postgres, cache → redis, tasks + queue → rabbitmq, minio → s3), the port
    is SERVER_PORT. Existing files are left alone unless --force is given.
    """
    from tempest.core.management.docker import DOCKER_FILES, render_docker_files
    from tempest.core.management.extras import extras_from_pyproject
    from tempest.core.management.templates import existing_files, write_tree
    from tempest.core.management.tools import project_dir

    settings_module = os.environ.get(ENVIRONMENT_VARIABLE, "")
    if not settings_module:
        raise CommandError(
            f"generate docker needs the project's settings: run it as python manage.py "
            f"generate docker (or set {ENVIRONMENT_VARIABLE})."
        )
    project = project_dir()
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise CommandError(f"{pyproject} is missing: run this in a tempest project's folder.")
    extras = extras_from_pyproject(pyproject.read_text(encoding="utf-8"))
    files = render_docker_files(settings_module.split(".")[0], extras, _server_port())
    present = existing_files(project, files)
    if present and not force:
        raise CommandError(
            f"{', '.join(map(str, present))} already exist{'s' if len(present) == 1 else ''}; "
            "run generate docker --force to overwrite."
        )
    if present:
        echo(f"Overwriting {len(present)} existing file(s) in {project}:")
        for relative in present:
            echo(f"  {relative}")
    write_tree(project, files, keep_existing=True)
    services = f" ({', '.join(extras)})" if extras else ""
    echo(f"Wrote {', '.join(str(path) for path in DOCKER_FILES)}{services}.")


def _server_port() -> int:
    """The project's SERVER_PORT, or 8000 when its settings cannot be read."""
    try:
        from tempest.conf import settings

        return int(settings.SERVER_PORT) or 8000
    except Exception:  # broken or incomplete settings: the default port
        return 8000
