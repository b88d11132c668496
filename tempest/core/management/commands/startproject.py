"""Create a new tempest project."""

from __future__ import annotations

import importlib.util
import secrets
from pathlib import Path

import click

from tempest.core.management.base import CommandError, echo
from tempest.core.management.templates import (
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
def command(name: str, directory: Path | None, template: Path | None) -> None:
    """Create a new tempest project.

    Writes manage.py, NAME/settings.py, NAME/asgi.py, .env with a fresh SECRET_KEY and
    JWT_SECRET, .env.example, .gitignore, pyproject.toml, README.md and tests/ into DIRECTORY
    (default: ./NAME). Nothing is written when anything is wrong.
    """
    from tempest import __version__

    target = (directory or Path(name)).resolve()
    if name in RESERVED_PROJECT_NAMES:
        raise CommandError(
            f"{name!r} cannot be a project name: {RESERVED_PROJECT_NAMES[name]}; choose another.",
            returncode=2,
        )
    validate_name(name, "project", target)
    context = {
        "project_name": name,
        "settings_class": "".join(part.title() for part in name.split("_")) + "Settings",
        "secret_key": secrets.token_urlsafe(50),
        "jwt_secret": secrets.token_urlsafe(64),
        "tempest_version": __version__,
        "installed_apps": [app for app in CONTRIB_APPS if _ships(app)],
    }
    files = render_tree(
        template or template_dir("project_template"), context, {"project_name": name}
    )
    write_tree(target, files, executable={Path("manage.py")})
    echo(f"Created project {name!r} in {target}")
    echo("Next steps:", level=1)
    if target != Path.cwd():
        echo(f"  cd {target}")
    echo("  python manage.py startapp <app_name>")
    echo("  python manage.py makemigrations")
    echo("  python manage.py migrate")
    echo("  python manage.py createsuperuser")
    echo("  python manage.py runserver")


def _ships(app: str) -> bool:
    try:
        return importlib.util.find_spec(app) is not None
    except ImportError:
        return False
