"""Why the database cannot be used, in one line that names the fix.

The command runner turns a failed first connection (missing driver, refused connection,
unknown host, wrong password) into such a line, and ``manage.py check`` probes the
database with a bounded timeout (tempest.W025, tempest.E026).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import traceback
from collections.abc import Iterator

from tempest.conf.masking import mask_url

__all__ = [
    "DRIVER_INSTALL",
    "PROBE_TIMEOUT",
    "connection_failure_reason",
    "database_error_message",
    "missing_driver_message",
    "probe_database",
    "raised_in_database_code",
]

PROBE_TIMEOUT = 5.0
"""Seconds ``manage.py check`` waits for the database before saying it cannot reach it."""

DRIVER_INSTALL: dict[str, str] = {
    "asyncpg": 'pip install "tempest-framework[postgres]"',
    "aiosqlite": "pip install aiosqlite (part of tempest-framework's base install)",
}
"""The command that installs each async database driver tempest supports."""

_DRIVER_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "tempest.db")
_ASYNCPG_REASONS = {
    "InvalidPasswordError": "wrong password",
    "InvalidAuthorizationSpecificationError": "the user is not allowed to connect",
    "InvalidCatalogNameError": "the database does not exist",
    "CannotConnectNowError": "the server is starting up or shutting down",
    "TooManyConnectionsError": "too many connections",
    "ConnectionDoesNotExistError": "the connection was lost",
    "ConnectionFailureError": "the connection failed",
    "AdminShutdownError": "the server is shutting down",
    "CrashShutdownError": "the server crashed",
    "ClientCannotConnectError": "the client cannot connect",
    "ConnectionRejectionError": "the server rejected the connection",
}
_LOST_CONNECTION = ("connection is closed", "connection was closed", "underlying connection")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, what caused it, and the driver's error inside SQLAlchemy's wrapper."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (
            getattr(current, "orig", None),
            current.__cause__,
            current.__context__,
            *(getattr(current, "exceptions", None) or ()),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)


def _from_database_code(error: BaseException) -> bool:
    """Whether the error was raised while SQLAlchemy or a database driver ran."""
    for frame, _ in traceback.walk_tb(error.__traceback__):
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVER_MODULES):
            return True
    return False


def missing_driver_message(error: BaseException, url: str) -> str | None:
    """The line naming what to install, when ``error`` is a missing database driver.

    Args:
        error: What connecting (or creating the engine) raised.
        url: The database URL in use.
    """
    for item in _chain(error):
        if isinstance(item, ModuleNotFoundError) and item.name in DRIVER_INSTALL:
            return (
                f"DATABASE_URL {mask_url(url)} needs the {item.name} driver, which is not "
                f"installed: {DRIVER_INSTALL[item.name]}."
            )
    return None


def raised_in_database_code(error: BaseException) -> bool:
    """Whether ``error`` (or one of its causes) was raised while SQLAlchemy or a driver ran."""
    return any(_from_database_code(item) for item in _chain(error))


def connection_failure_reason(error: BaseException) -> str | None:
    """Why a connection failed or was lost, in a few words; None for any other error.

    Args:
        error: What connecting or a query raised (SQLAlchemy's wrapper or the driver's).
    """
    return _reason(error)


def _reason(error: BaseException) -> str | None:
    """Why a connection failed, in a few words, or None when it is no connection error."""
    for item in _chain(error):
        name = type(item).__name__
        if name in _ASYNCPG_REASONS:
            return _ASYNCPG_REASONS[name]
        if name == "InterfaceError" and str(item).startswith(_LOST_CONNECTION):
            return "the connection was lost"
        if isinstance(item, socket.gaierror):
            return "unknown host"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, TimeoutError):
            return "timed out"
        if isinstance(item, OSError):
            if "Connect call failed" in str(item):  # every address of the host refused
                return "connection refused"
            return item.strerror.lower() if item.strerror else str(item)
        if str(item) == "unable to open database file":  # SQLite: missing folder, no rights
            return str(item)
    return None


def _unreachable(url: str, reason: str) -> str:
    return (
        f"cannot reach the database at {mask_url(url)}: {reason} "
        "(is it running? check DATABASE_URL)"
    )


def database_error_message(error: BaseException, url: str | None = None) -> str | None:
    """One line for a command that failed because the database cannot be used.

    Args:
        error: What the command raised.
        url: The database URL; ``settings.DATABASE_URL`` when not given.

    Returns:
        The line (naming the extra to install or DATABASE_URL), or None when ``error``
        has nothing to do with connecting to the database.
    """
    if url is None:
        try:
            from tempest.conf import settings

            url = str(settings.DATABASE_URL)
        except Exception:
            return None
    missing = missing_driver_message(error, url)
    if missing is not None:
        return missing
    if not raised_in_database_code(error):
        return None  # e.g. a mail or cache host: not the database's business
    reason = _reason(error)
    if reason is None:
        return None
    message = _unreachable(url, reason)
    return message[0].upper() + message[1:] + "."


def probe_database(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """Connect once to ``url`` and say why that failed, waiting at most ``timeout`` seconds.

    Runs in its own thread and event loop, so it works inside a running loop too, and a
    host name lookup that hangs cannot hold the caller past the timeout.

    Args:
        url: An async database URL.
        timeout: Seconds to wait for the connection.

    Returns:
        None when the database answered, else the problem (``cannot reach ...``, or the
        driver to install).
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            asyncio.run(_connect_once(url, timeout))
        except BaseException as error:  # every failure is the answer
            missing = missing_driver_message(error, url)
            reason = _reason(error) or f"{type(error).__name__}: {error}".splitlines()[0]
            outcome.append(missing or _unreachable(url, reason))
        else:
            outcome.append(None)

    thread = threading.Thread(target=attempt, name="tempest-database-probe", daemon=True)
    thread.start()
    thread.join(timeout + 1)
    if not outcome:
        return _unreachable(url, f"no answer within {timeout:g} s")
    return outcome[0]


async def _connect_once(url: str, timeout: float) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
