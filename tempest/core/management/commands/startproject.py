"""Create a new tempest project."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.templates import (
    existing_files,
    render_tree,
    template_dir,
    validate_name,
    write_tree,
)

requires_setup = False

CONTRIB_APPS: tuple[str, ...] = ("tempest.contrib.auth", "tempest.contrib.admin")
"""Apps a new project installs, each one when this tempest version ships it."""

RESERVED_PROJECT_NAMES: dict[str, str] = {
    "tests": "it would shadow the project's own test package (tests/)",
}
"""Names the project template itself uses, and why each one is refused."""


@click.command()
@click.argument("name")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--template",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A project template folder to render instead of tempest's own.",
)
@click.option(
    "--extras",
    metavar="NAMES",
    default="",
    help="Comma-separated: postgres, redis, rabbitmq, s3 (servers the project uses) or "
    "any tempest-framework extra; they set the settings, .env and dependencies.",
)
@click.option(
    "--docker",
    is_flag=True,
    help="Also write a Dockerfile, .dockerignore and docker-compose.yaml.",
)
@click.option("--bind-host", metavar="HOST", help="SERVER_HOST of the project (127.0.0.1).")
@click.option("--bind-port", metavar="PORT", help="SERVER_PORT of the project (8000).")
@click.option(
    "--force",
    is_flag=True,
    help="Write into a folder that has files: lists the ones overwritten, touches no other.",
)
def command(
    name: str,
    directory: Path | None,
    template: Path | None,
    extras: str,
    docker: bool,
    bind_host: str | None,
    bind_port: str | None,
    force: bool,
) -> None:
    """Create a new tempest project.

    Writes manage.py, NAME/settings.py, NAME/asgi.py, .env with a fresh SECRET_KEY and
    JWT_SECRET, .env.example, .gitignore, pyproject.toml, README.md and tests/ into DIRECTORY
    (default: ./NAME); with --docker also a Dockerfile, .dockerignore and
    docker-compose.yaml. Nothing is written when anything is wrong.
    """
    from tempest import __version__
    from tempest.core.management.extras import extras_context, parse_extras

    target = (directory or Path(name)).resolve()
    if name in RESERVED_PROJECT_NAMES:
        raise CommandError(
            f"{name!r} cannot be a project name: {RESERVED_PROJECT_NAMES[name]}; choose another.",
            returncode=2,
        )
    chosen = parse_extras(extras)
    host = _bind_host(bind_host)
    port = _bind_port(bind_port)
    validate_name(name, "project", target, allow_existing=force)
    context = {
        "project_name": name,
        "settings_class": "".join(part.title() for part in name.split("_")) + "Settings",
        "secret_key": secrets.token_urlsafe(50),
        "jwt_secret": secrets.token_urlsafe(64),
        "postgres_password": secrets.token_urlsafe(24),
        "rabbitmq_password": secrets.token_urlsafe(24),
        "minio_secret_key": secrets.token_urlsafe(32),
        "database_url": f"postgresql+asyncpg://{name}@127.0.0.1:5432/{name}",
        "bind_host": host,
        "bind_port": port,
        "tempest_version": __version__,
        "installed_apps": [app for app in CONTRIB_APPS if _ships(app)],
        **extras_context(chosen),
        "minio_mixin": "s3" in chosen and not _settings_have_minio(),
    }
    files = render_tree(
        template or template_dir("project_template"), context, {"project_name": name}
    )
    if docker:
        from tempest.core.management.docker import render_docker_files

        files.update(render_docker_files(name, chosen, port))
    overwritten = existing_files(target, files) if force else []
    if overwritten:
        echo(f"Overwriting {len(overwritten)} existing file(s) in {target}:")
        for relative in overwritten:
            echo(f"  {relative}")
    write_tree(target, files, executable={Path("manage.py")}, keep_existing=force)
    with_extras = f" with {', '.join(chosen)}" if chosen else ""
    echo(f"Created project {name!r} in {target}{with_extras}")
    echo("Next steps:", level=1)
    if target != Path.cwd():
        echo(f"  cd {target}")
    if docker:
        echo("  docker compose up --build")
    echo("  python manage.py startapp <app_name>")
    echo("  python manage.py makemigrations")
    echo("  python manage.py migrate")
    echo("  python manage.py createsuperuser")
    echo("  python manage.py runserver")


def _settings_have_minio() -> bool:
    """Whether tempest's Settings already hold the MINIO_* settings (no mixin needed)."""
    from tempest.conf import MinIOSettings, Settings

    return issubclass(Settings, MinIOSettings)


def _bind_port(value: str | None) -> int:
    """``--bind-port``: a TCP port, 1 to 65535, else a one-line error."""
    if value is None:
        return 8000
    if value.strip().isdigit() and 1 <= int(value) <= 65535:
        return int(value)
    raise CommandError(
        f"Invalid value for '--bind-port': {value!r} is no TCP port (a number, 1 to 65535).",
        returncode=2,
    )


def _bind_host(value: str | None) -> str:
    """``--bind-host``: an IP address or a host name, else a one-line error."""
    if value is None:
        return "127.0.0.1"
    import ipaddress
    import re

    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if re.fullmatch(
        r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*",
        value,
    ):
        return value
    raise CommandError(
        f"Invalid value for '--bind-host': {value!r} is no IP address or host name "
        "(e.g. 0.0.0.0, 127.0.0.1, localhost).",
        returncode=2,
    )


def _ships(app: str) -> bool:
    try:
        return importlib.util.find_spec(app) is not None
    except ImportError:
        return False
