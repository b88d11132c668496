"""Start the development server, reloading on changes."""

from __future__ import annotations

from pathlib import Path

import click

from tempest.core.management.base import echo, get_context
from tempest.core.management.serving import (
    asgi_application_path,
    ensure_port_free,
    parse_addrport,
    run_checks_before_serving,
    uvicorn_log_level,
)

RELOAD_INCLUDES: tuple[str, ...] = ("*.py", "*.html", "*.jinja", "*.jinja2", ".env")
"""Files whose change restarts the development server.

No ``*.env`` here: uvicorn checks includes in random order, and ``*.env`` matching ``.env``
before the ``.env`` pattern makes its dotfile exclude win, so the change would be missed.
"""


@click.command()
@click.argument("addrport", required=False)
@click.option("--noreload", is_flag=True, help="Do not restart when files change.")
@click.option("--skip-checks", is_flag=True, help="Do not run the system checks first.")
def command(addrport: str | None, noreload: bool, skip_checks: bool) -> None:
    """Start the development server, reloading on changes.

    ADDRPORT is PORT, ADDR or ADDR:PORT (default: SERVER_HOST:SERVER_PORT,
    127.0.0.1:8000). Code, template and .env changes restart the server unless
    --noreload is given.
    """
    import uvicorn

    from tempest import __version__
    from tempest.conf import settings

    host, port = parse_addrport(addrport, settings.SERVER_HOST, settings.SERVER_PORT)
    if not skip_checks:
        run_checks_before_serving()
    ensure_port_free(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    echo(f"tempest {__version__}, settings {get_context().settings_module}")
    echo(f"Starting development server at http://{shown_host}:{port}/")
    echo("Quit the server with CONTROL-C.")
    project_dir = str(Path.cwd())
    uvicorn.run(
        asgi_application_path(),
        host=host,
        port=port,
        reload=not noreload,
        reload_dirs=[project_dir] if not noreload else None,
        reload_includes=list(RELOAD_INCLUDES) if not noreload else None,
        app_dir=project_dir,
        log_level=uvicorn_log_level(),
    )
