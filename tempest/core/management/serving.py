"""What ``runserver`` and ``serve`` share: checks first, a free port, uvicorn."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Collection

from tempest.conf.environ import ENVIRONMENT_VARIABLE
from tempest.core.management.base import CommandError, echo, get_context

_UVICORN_LOG_LEVELS = {0: "warning", 1: "info", 2: "debug", 3: "trace"}


def run_checks_before_serving(
    action: str = "serving", ignore: Collection[str] = (), announce: bool = True
) -> None:
    """Run the system checks, print the report and stop on errors.

    ``runserver``, ``serve`` and ``migrate`` call it first (unless ``--skip-checks``).

    Args:
        action: What the checks come before, for the message (``serving``, ``migrating``).
        ignore: Message ids not worth showing here (``migrate`` reports the state of the
            migrations itself, in one line).
        announce: Print "Performing system checks..." and a clean report at ``-v1``;
            when False only ``-v2`` shows them (problems are always shown).

    Raises:
        CommandError: A check reported an error.
    """
    from tempest.core.checks import CheckReport, run_system_checks

    quiet_level = 1 if announce else 2
    echo("Performing system checks...", level=quiet_level)
    report = run_system_checks()
    if ignore:
        kept = [message for message in report.messages if message.id not in ignore]
        report = CheckReport(kept, report.silenced)
    serious = report.serious()
    echo(report.render(), level=0 if report.messages else quiet_level, err=bool(serious))
    if serious:
        raise CommandError(f"System check found {len(serious)} error(s); fix them before {action}.")


def asgi_application_path() -> str:
    """``module:attribute`` of the project's ASGI app, for uvicorn.

    ``ASGI_APPLICATION`` when set, else ``asgi:application`` next to the settings module.
    """
    from tempest.conf import settings

    if settings.ASGI_APPLICATION:
        return settings.ASGI_APPLICATION
    package = os.environ.get(ENVIRONMENT_VARIABLE, "").rpartition(".")[0]
    return f"{package}.asgi:application" if package else "asgi:application"


def ensure_port_free(host: str, port: int) -> None:
    """Fail with a clear message when ``host:port`` cannot be bound.

    Args:
        host: Address to bind.
        port: TCP port.

    Raises:
        CommandError: The port is in use or the address is not available here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Port {port} on {host} is already in use: stop the other server or "
                    f"pick another port (e.g. {host}:{port + 1})."
                ) from error
            raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror}.") from error


def configure_server_logging() -> None:
    """Set up this process's logging from the settings, before uvicorn starts.

    ``runserver`` and ``serve`` then pass ``log_config=None``, so uvicorn adds no handlers
    of its own: its error and access lines go through the root logger's handlers (JSON
    lines with ``LOG_JSON``), in this process and, once the app is loaded, in each worker.
    """
    from tempest.core.logging import configure_logging_from_settings

    configure_logging_from_settings()


def uvicorn_log_level() -> str:
    """Uvicorn's log level for the current ``-v``."""
    return _UVICORN_LOG_LEVELS[get_context().verbosity]


def parse_addrport(value: str | None, default_host: str, default_port: int) -> tuple[str, int]:
    """Parse ``PORT``, ``ADDR`` or ``ADDR:PORT`` (``[::1]:8000`` for IPv6).

    Raises:
        CommandError: With exit status 2 when the value is malformed.
    """
    if not value:
        return default_host, default_port
    host, port_text = default_host, value
    if value.startswith("["):
        bracket = value.find("]")
        if bracket == -1:
            raise CommandError(f"{value!r} is not ADDR:PORT: missing ']'.", returncode=2)
        host, port_text = value[1:bracket], value[bracket + 2 :] or str(default_port)
    elif ":" in value:
        host, _, port_text = value.rpartition(":")
    elif not value.isdigit():
        host, port_text = value, str(default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CommandError(
            f"{value!r} is not a valid ADDR:PORT: the port must be a number from 1 to 65535.",
            returncode=2,
        )
    return host or default_host, int(port_text)
