"""The extras of a new project (``startproject --extras``) and what each one brings.

A *service extra* names a server the project talks to: ``postgres``, ``redis``,
``rabbitmq`` and ``s3``. Each one sets the project's settings, ``.env`` and
``.env.example``, adds the tempest-framework extras that hold its client libraries to the
project's dependencies, and adds its server to ``docker-compose.yaml``. Any other extra of
the tempest-framework distribution (``auth``, ``metrics``, ``otel``...) is passed through
to the project's dependency line as it is.

Tasks: ``rabbitmq`` makes RabbitMQ the TaskIQ broker (and the FastStream queues' server),
so the compose file gets a ``worker`` and a ``scheduler`` service. ``redis`` alone holds
the state the app's processes share (cache, rate limits, throttles, sessions) and runs no
tasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tempest.core.management.base import CommandError


@dataclass(frozen=True)
class ServiceExtra:
    """A server a project can use: what it adds to the project's dependencies.

    Args:
        name: The extra's name on the command line.
        framework_extras: The tempest-framework extras holding its client libraries.
        description: One line for ``--help`` and the docs.
    """

    name: str
    framework_extras: tuple[str, ...]
    description: str


SERVICE_EXTRAS: dict[str, ServiceExtra] = {
    extra.name: extra
    for extra in (
        ServiceExtra("postgres", ("postgres",), "PostgreSQL as the database (asyncpg)"),
        ServiceExtra("redis", ("cache",), "Redis for the cache, rate limits and sessions"),
        ServiceExtra(
            "rabbitmq", ("tasks", "queue"), "RabbitMQ for background tasks and message queues"
        ),
        ServiceExtra("s3", ("minio",), "S3 object storage (MinIO in docker-compose.yaml)"),
    )
}
"""The service extras, in the order they are written everywhere."""

_NOT_PASSED_THROUGH = frozenset({"all"})
_PINNED_EXTRAS = re.compile(r'"tempest-framework\[([^\]]*)\]')


def framework_extras() -> tuple[str, ...]:
    """The extras the installed tempest-framework distribution declares (none if unknown)."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        declared = metadata("tempest-framework").get_all("Provides-Extra") or []
    except PackageNotFoundError:
        return ()
    return tuple(sorted(set(declared) - _NOT_PASSED_THROUGH))


def known_extras() -> tuple[str, ...]:
    """Every name ``--extras`` accepts: the service extras, then the framework's."""
    services = tuple(SERVICE_EXTRAS)
    return services + tuple(name for name in framework_extras() if name not in services)


def parse_extras(text: str | None) -> tuple[str, ...]:
    """The extras of a comma-separated ``--extras`` value, in canonical order, no repeats.

    Args:
        text: ``"postgres,redis"``; ``None`` or ``""`` for none.

    Raises:
        CommandError: An unknown name, listing the known ones (exit status 2).
    """
    names = [part.strip().lower() for part in (text or "").split(",") if part.strip()]
    known = known_extras()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise CommandError(
            f"Unknown extra{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known extras: {', '.join(known)}.",
            returncode=2,
        )
    return tuple(name for name in known if name in names)


def dependency_extras(extras: Iterable[str]) -> tuple[str, ...]:
    """The tempest-framework extras a project with ``extras`` depends on, sorted."""
    found: set[str] = set()
    for name in extras:
        service = SERVICE_EXTRAS.get(name)
        found.update(service.framework_extras if service else (name,))
    return tuple(sorted(found))


def extras_from_pyproject(text: str) -> tuple[str, ...]:
    """The service extras of an existing project, read from its tempest-framework pin.

    ``generate docker`` uses it: ``"tempest-framework[cache,postgres]==1.0"`` gives
    ``("postgres", "redis")``.

    Args:
        text: The project's pyproject.toml.
    """
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    match = _PINNED_EXTRAS.search("\n".join(lines))
    pinned = {part.strip() for part in match.group(1).split(",")} if match else set()
    return tuple(
        name
        for name, service in SERVICE_EXTRAS.items()
        if pinned.issuperset(service.framework_extras)
    )


def extras_context(extras: Iterable[str]) -> dict[str, object]:
    """Template variables for ``extras``: ``postgres``, ``redis``... booleans and more.

    ``tasks`` is true when background tasks run (``rabbitmq``); ``dependency`` is the
    bracket of the project's tempest-framework pin (``"[cache,postgres]"`` or ``""``).
    """
    chosen = tuple(extras)
    pinned = dependency_extras(chosen)
    context: dict[str, object] = {name: name in chosen for name in SERVICE_EXTRAS}
    context["extras"] = chosen
    context["tasks"] = "rabbitmq" in chosen
    context["dependency"] = f"[{','.join(pinned)}]" if pinned else ""
    return context
