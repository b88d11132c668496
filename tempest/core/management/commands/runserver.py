"""Start the development server, reloading on changes."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click

from tempest.core.management.base import echo, get_context
from tempest.core.management.load_failed import LoadFailedApplication
from tempest.core.management.serving import (
    asgi_application_path,
    configure_server_logging,
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

APPLICATION_VARIABLE = "TEMPEST_RUNSERVER_APPLICATION"
"""Environment variable through which ``runserver`` names the app to its server process."""

DEBUG_VARIABLE = "TEMPEST_RUNSERVER_DEBUG"
"""``DEBUG`` as ``runserver`` started, for when the settings themselves no longer load."""

logger = logging.getLogger("uvicorn.error")


@click.command()
@click.argument("addrport", required=False)
@click.option("--noreload", is_flag=True, help="Do not restart when files change.")
@click.option("--skip-checks", is_flag=True, help="Do not run the system checks first.")
def command(addrport: str | None, noreload: bool, skip_checks: bool) -> None:
    """Start the development server, reloading on changes.

    ADDRPORT is PORT, ADDR or ADDR:PORT (default: SERVER_HOST:SERVER_PORT,
    127.0.0.1:8000). Code, template and .env changes restart the server unless
    --noreload is given. While a change leaves the application unable to load, every
    request is answered 500 (with the traceback in DEBUG) until the file is fixed.
    """
    import uvicorn

    from tempest import __version__
    from tempest.conf import settings
    from tempest.core.static import STATIC_MODE_VARIABLE

    host, port = parse_addrport(addrport, settings.SERVER_HOST, settings.SERVER_PORT)
    if not skip_checks:
        run_checks_before_serving()
    ensure_port_free(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    echo(f"tempest {__version__}, settings {get_context().settings_module}")
    echo(f"Starting development server at http://{shown_host}:{port}/")
    echo("Quit the server with CONTROL-C.")
    project_dir = str(Path.cwd())
    # The app serves every installed app's static/ folder at STATIC_URL (Django's way).
    os.environ[STATIC_MODE_VARIABLE] = "apps"
    configure_server_logging()
    if noreload:
        uvicorn.run(
            asgi_application_path(),
            host=host,
            port=port,
            reload=False,
            app_dir=project_dir,
            log_level=uvicorn_log_level(),
            log_config=None,  # configure_server_logging's handlers, not uvicorn's own
            forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
        )
        return
    # The server process the reloader starts (and restarts) loads the app through
    # load_application, which serves an error page instead when the app does not load.
    os.environ[APPLICATION_VARIABLE] = asgi_application_path()
    os.environ[DEBUG_VARIABLE] = "1" if settings.DEBUG else "0"
    uvicorn.run(
        f"{__name__}:load_application",
        factory=True,
        host=host,
        port=port,
        reload=True,
        reload_dirs=[project_dir],
        reload_includes=list(RELOAD_INCLUDES),
        app_dir=project_dir,
        log_level=uvicorn_log_level(),
        log_config=None,  # configure_server_logging's handlers, not uvicorn's own
        # Not uvicorn's default (any 127.0.0.1 peer may rewrite the client): TRUSTED_PROXIES.
        forwarded_allow_ips=list(settings.TRUSTED_PROXIES),
    )


def load_application() -> Any:
    """The project's ASGI app, or a ``LoadFailedApplication`` when it does not load.

    The factory ``runserver`` gives uvicorn: a syntax error saved in a router, a model
    that no longer imports or a settings file that fails leaves the server process
    running, answering every request with a 500 page (the traceback in DEBUG), and the
    reloader restarts it with the real app once a file is saved again.

    Returns:
        The ASGI application named by ``TEMPEST_RUNSERVER_APPLICATION``, or the fallback.
    """
    from uvicorn.importer import import_from_string

    path = os.environ.get(APPLICATION_VARIABLE) or asgi_application_path()
    try:
        return import_from_string(path)
    except Exception as error:  # whatever the project's code raises while importing
        fallback = LoadFailedApplication(error, debug=_debug(), project_dir=Path.cwd())
        _configure_logging_anyway()
        logger.error(
            "The application %s failed to load; every request is answered 500 until "
            "%s is fixed and saved.",
            path,
            fallback.culprit_text or "the error",
            exc_info=error,
        )
        return fallback


def _configure_logging_anyway() -> None:
    """The app did not load (and so did not set logging up): do it here, as best we can."""
    from tempest.core.logging import configure_logging, configure_logging_from_settings

    try:
        configure_logging_from_settings()
    except Exception:  # the settings themselves are what fails to load
        configure_logging()


def _debug() -> bool:
    """``settings.DEBUG``, or DEBUG as runserver started when the settings do not load."""
    try:
        from tempest.conf import settings

        return bool(settings.DEBUG)
    except Exception:
        return os.environ.get(DEBUG_VARIABLE) == "1"
