"""List every route of the project: method, path, name and app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

from tempest.core.management.base import CommandError

BUILTIN_LABEL = "tempest"
_NO_METHODS = "WS/MOUNT"


@click.command()
@click.option("--app", "app_label", help="Only the routes of this app label.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON array of {methods, path, name, app}; methods is a list.",
)
def command(app_label: str | None, as_json: bool) -> None:
    """List every route of the project: method, path, name and app."""
    from tempest.apps import apps
    from tempest.core.asgi import get_asgi_application

    if app_label is not None and app_label != BUILTIN_LABEL:
        try:
            apps.get_app_config(app_label)
        except LookupError as error:
            raise CommandError(str(error.args[0])) from error
    prefixes = sorted(
        ((config.api_prefix, config.label) for config in apps.get_app_configs()),
        key=lambda item: -len(item[0]),
    )
    rows: list[tuple[str, str, str, str]] = []
    for path, methods, name in _routes(get_asgi_application()):
        owner = next(
            (
                label
                for prefix, label in prefixes
                if path == prefix or path.startswith(prefix + "/")
            ),
            BUILTIN_LABEL,
        )
        if app_label is None or owner == app_label:
            rows.append((methods, path, name, owner))
    if as_json:
        import json

        click.echo(
            json.dumps(
                [
                    {
                        "methods": methods.split(",") if methods != _NO_METHODS else [],
                        "path": path,
                        "name": name,
                        "app": owner,
                    }
                    for methods, path, name, owner in rows
                ],
                indent=2,
            )
        )
        return
    header = ("METHOD", "PATH", "NAME", "APP")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        line = f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
        click.echo(line.rstrip())


def _routes(application: Any) -> Iterator[tuple[str, str, str]]:
    """(path, methods, name) of every route, including those of included routers."""
    try:  # FastAPI >= 0.165 keeps included routers lazily
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        contexts: Any = application.routes
    else:
        contexts = iter_route_contexts(application.routes)
    for route in contexts:
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = getattr(route, "methods", None)
        shown = ",".join(sorted(set(methods) - {"HEAD"})) if methods else _NO_METHODS
        yield path, shown, getattr(route, "name", None) or ""
