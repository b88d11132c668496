"""Serve the project in production: no reload, several worker processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import click

from tempest.core.management.base import echo
from tempest.core.management.serving import (
    asgi_application_path,
    configure_server_logging,
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

    Put it behind a reverse proxy; X-Forwarded-For/-Proto are believed only from the
    networks of TRUSTED_PROXIES (none by default), never from uvicorn's 127.0.0.1 default.
    """
    import uvicorn

    from tempest.conf import settings
    from tempest.core.static import STATIC_MODE_VARIABLE

    host = host or settings.SERVER_HOST
    port = port or settings.SERVER_PORT
    if not skip_checks:
        run_checks_before_serving()
    _warn_in_memory_state(settings, workers)
    ensure_port_free(host, port)
    echo(f"Serving on http://{host}:{port}/ with {workers} worker(s).")
    # The workers' apps serve STATIC_ROOT at STATIC_URL when it is set (collectstatic).
    os.environ[STATIC_MODE_VARIABLE] = "root"
    # METRICS_ENABLED: the workers' metric files go to one directory, summed per scrape.
    from tempest.api.prometheus.project import serve_multiprocess_dir

    metrics_dir, temporary = serve_multiprocess_dir(settings, workers)
    try:
        _run(uvicorn, host, port, workers, settings)
    finally:
        if temporary and metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run(uvicorn: Any, host: str, port: int, workers: int, settings: Any) -> None:
    configure_server_logging()
    uvicorn.run(
        asgi_application_path(),
        host=host,
        port=port,
        workers=workers,
        reload=False,
        app_dir=str(Path.cwd()),
        log_level=uvicorn_log_level(),
        log_config=None,  # configure_server_logging's handlers, not uvicorn's own
        proxy_headers=True,
        # After SIGTERM (and GracefulShutdownMiddleware's drain), requests in flight get
        # this long to finish before uvicorn cancels them; None would wait forever.
        timeout_graceful_shutdown=settings.GRACEFUL_SHUTDOWN_TIMEOUT,
        # uvicorn would rewrite the client from X-Forwarded-For of any local peer.
        forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
    )


def _warn_in_memory_state(settings: object, workers: int) -> None:
    """One line when several workers would each keep their own throttles, limits..."""
    from tempest.conf.shared_state import in_memory_shared_state

    names = in_memory_shared_state(settings) if workers > 1 else []
    if names:
        echo(
            f"Warning: {', '.join(names)} keep state in each worker's memory, so each of the "
            f"{workers} workers counts on its own; set REDIS_URL to a redis:// URL they share.",
            level=0,
            err=True,
        )
