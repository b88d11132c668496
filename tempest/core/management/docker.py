"""A project's Dockerfile, .dockerignore and docker-compose.yaml.

``startproject --docker`` and ``manage.py generate docker`` render them from the
``docker_template`` folder next to this module. Every base image is pinned to an exact
tag (no ``latest``); the compose file holds the servers the project's extras need, each
with a healthcheck, a one-shot ``migrate`` service the app waits on, and a ``worker`` and
a ``scheduler`` when the project runs background tasks (``rabbitmq``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tempest.core.management.extras import SERVICE_EXTRAS, extras_context
from tempest.core.management.templates import render_tree

DOCKER_TEMPLATE = Path(__file__).resolve().parent / "docker_template"
"""The folder of the Dockerfile, .dockerignore and docker-compose.yaml templates."""

PYTHON_IMAGE = "python:3.12.8-slim-bookworm"
"""The base image of both stages of the Dockerfile."""

SERVICE_IMAGES: dict[str, str] = {
    "postgres": "postgres:17.2-bookworm",
    "redis": "redis:7.4.1-bookworm",
    "rabbitmq": "rabbitmq:4.0.5",
    "s3": "minio/minio:RELEASE.2025-04-22T22-12-26Z",
}
"""The image of each service extra's server in docker-compose.yaml."""

APP_UID = 10001
"""The numeric user and group id the image runs as (not root, above the system range)."""

READINESS_PATH = "/health/readiness"
"""The route the image's HEALTHCHECK and the compose app's healthcheck ask."""

DOCKER_FILES: tuple[Path, ...] = (
    Path("Dockerfile"),
    Path(".dockerignore"),
    Path("docker-compose.yaml"),
)
"""What :func:`render_docker_files` writes, relative to the project's folder."""


def render_docker_files(
    project_name: str, extras: Iterable[str], bind_port: int = 8000
) -> dict[Path, str]:
    """The Dockerfile, .dockerignore and docker-compose.yaml of a project.

    Args:
        project_name: The project's package name (``shop``).
        extras: Its extras; the service extras decide the compose services.
        bind_port: The port the app listens on inside the container.

    Returns:
        Relative path → text, as :func:`~tempest.core.management.templates.render_tree`.
    """
    context = extras_context(extras)
    services = [name for name in SERVICE_EXTRAS if context[name]]
    context.update(
        project_name=project_name,
        compose_name=project_name.replace("_", "-"),
        image=f"{project_name.replace('_', '-')}:local",
        python_image=PYTHON_IMAGE,
        images=SERVICE_IMAGES,
        services=services,
        uid=APP_UID,
        bind_port=bind_port,
        readiness_path=READINESS_PATH,
    )
    return render_tree(DOCKER_TEMPLATE, context, {})
