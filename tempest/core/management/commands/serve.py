"""Serve the project in production: no reload, several worker processes."""

from __future__ import annotations

from pathlib import Path

import click

from tempest.core.management.base import echo
from tempest.core.management.serving import (
    asgi_application_path,
    ensure_port_free,
    run_checks_before_serving,
    uvicorn_log_level,
)


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Number of worker processes.",
)
@click.option("--host", default=None, help="Address to bind (default: SERVER_HOST).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to bind (default: SERVER_PORT).",
)
@click.option("--skip-checks", is_flag=True, help="Do not run the system checks first.")
def command(workers: int, host: str | None, port: int | None, skip_checks: bool) -> None:
    """Serve the project in production: no reload, several worker processes.

    Put it behind a reverse proxy; it trusts X-Forwarded-* headers from
    FORWARDED_ALLOW_IPS (uvicorn's default: 127.0.0.1).
    """
    import uvicorn

    from tempest.conf import settings

    host = host or settings.SERVER_HOST
    port = port or settings.SERVER_PORT
    if not skip_checks:
        run_checks_before_serving()
    ensure_port_free(host, port)
    echo(f"Serving on http://{host}:{port}/ with {workers} worker(s).")
    uvicorn.run(
        asgi_application_path(),
        host=host,
        port=port,
        workers=workers,
        reload=False,
        app_dir=str(Path.cwd()),
        log_level=uvicorn_log_level(),
        proxy_headers=True,
    )
