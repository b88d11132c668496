"""When the database goes away: which errors mean "unreachable", and saying so once.

A request that needs the database while it is down must get a fast, temporary answer
(503 with ``Retry-After``), not a 500 and a traceback per request. This module holds the
three pieces the request path, the admin, the health check and the commands share:

- :func:`is_database_unavailable`: whether an error is of the *connection* class (refused,
  lost, timed out, the pool had no connection to give) rather than about the data
  (integrity, bad values), which keep their own answers;
- :func:`report_unavailable` / :func:`report_available`: the log says once per process
  ``database unreachable at <masked URL>: <reason>`` and once ``database reachable
  again``, however many requests fail in between;
- :func:`watch_engine`: the engine's hooks that discard pooled connections the server
  closed (a free local check, no round trip) and notice when connections succeed again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from tempest.conf.masking import mask_url
from tempest.db.reachability import connection_failure_reason, raised_in_database_code

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from tempest.exceptions import ServiceUnavailableException

__all__ = [
    "UNAVAILABLE_MESSAGE",
    "engine_url",
    "is_database_unavailable",
    "report_available",
    "report_unavailable",
    "unavailable_exception",
    "unavailable_reason",
    "watch_engine",
]

logger = logging.getLogger("tempest.db")

UNAVAILABLE_MESSAGE = "The database is unavailable right now; try again shortly"
"""The ``detail`` of the 503 a request gets while the database cannot be reached."""

_URL_ATTRIBUTE = "tempest_database_url"  # set on an engine's errors by watch_engine
_lock = threading.Lock()
_down: dict[str, str] = {}  # masked URL -> the reason it was first seen down


def unavailable_reason(error: BaseException) -> str | None:
    """Why ``error`` means the database cannot be reached, or None when it does not.

    Connection-class errors only: a refused or lost connection, a server shutting down or
    refusing new connections, a connect attempt or pool wait that timed out, a
    connection SQLAlchemy invalidated. Integrity and data errors, and a ``TimeoutError``
    or ``OSError`` raised outside SQLAlchemy or the driver (an HTTP call to some other
    service), are not.

    Args:
        error: What the work raised.
    """
    from sqlalchemy import exc

    if isinstance(error, exc.TimeoutError):  # the pool had no connection to give
        return "no pooled connection became free in time"
    if isinstance(error, exc.StatementError) and not isinstance(error, exc.DBAPIError):
        return None  # e.g. a value the driver could not encode: the request's fault
    if isinstance(error, exc.DBAPIError):
        reason = connection_failure_reason(error)
        if reason is not None:
            return reason
        return "the connection was lost" if error.connection_invalidated else None
    if isinstance(error, exc.DisconnectionError):
        return "the connection was lost"
    if isinstance(error, OSError | TimeoutError) and not raised_in_database_code(error):
        return None
    if isinstance(error, exc.SQLAlchemyError | OSError | TimeoutError) or _is_driver_error(error):
        return connection_failure_reason(error)
    return None


def _is_driver_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("asyncpg", "aiosqlite", "sqlite3"))


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached (see :func:`unavailable_reason`)."""
    return unavailable_reason(error) is not None


def report_unavailable(url: str, reason: str) -> None:
    """Log ``database unreachable at <masked URL>: <reason>``, once until it is back.

    Args:
        url: The database URL (its password is masked in the log).
        reason: Why it cannot be reached, in a few words.
    """
    masked = mask_url(url)
    with _lock:
        if masked in _down:
            return
        _down[masked] = reason
    logger.warning(
        "database unreachable at %s: %s; requests that need it answer 503 until it is back",
        masked,
        reason,
    )


def report_available(url: str) -> None:
    """Log ``database reachable again at <masked URL>`` when it was reported down.

    Args:
        url: The database URL (its password is masked in the log).
    """
    masked = mask_url(url)
    if masked not in _down:  # the usual case: one dict lookup
        return
    with _lock:
        if _down.pop(masked, None) is None:
            return
    logger.warning("database reachable again at %s", masked)


def unavailable_exception(
    error: BaseException, url: str, *, retry_after: int | None = None
) -> ServiceUnavailableException:
    """The 503 for a request that failed because the database cannot be reached.

    Also reports the outage (logged once).

    Args:
        error: The connection-class error (see :func:`is_database_unavailable`).
        url: The database URL.
        retry_after: Seconds for ``Retry-After``; the exception's default when None.
    """
    from tempest.exceptions import ServiceUnavailableException

    report_unavailable(url, unavailable_reason(error) or type(error).__name__)
    return ServiceUnavailableException(
        UNAVAILABLE_MESSAGE, retry_after=retry_after, service="database"
    )


def engine_url(error: BaseException) -> str | None:
    """The URL of the engine that raised ``error`` (or one of its causes), when watched.

    Args:
        error: What the work raised.
    """
    current: BaseException | None = error
    for _ in range(8):
        if current is None:
            return None
        url = getattr(current, _URL_ATTRIBUTE, None)
        if url is not None:
            return str(url)
        current = current.__cause__ or current.__context__
    return None


def watch_engine(engine: AsyncEngine, url: str) -> None:
    """Install the outage hooks on ``engine`` (the manager does it in ``connect()``).

    - On checkout, a pooled asyncpg connection that the server closed (its socket saw the
      end) is discarded and replaced, at the cost of a local flag check, so a server
      restart costs no failed request; connections that die silently are caught by
      SQLAlchemy's invalidation on the first error (the whole pool is then renewed), or
      by ``pool_pre_ping`` when the engine was given it.
    - A new connection that succeeds while the database was reported down logs that it
      is reachable again.
    - Errors raised by the engine carry its URL, so that the outage is logged with the
      URL of the database that failed, whichever manager it belongs to.

    Args:
        engine: The engine to watch.
        url: Its URL (for the log).
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        report_available(url)

    def on_error(context: Any) -> None:
        for raised in (context.original_exception, context.sqlalchemy_exception):
            if raised is not None:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(raised, _URL_ATTRIBUTE, url)

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "handle_error", on_error)
    if engine.dialect.driver == "asyncpg":
        event.listen(engine.sync_engine, "checkout", _discard_closed)


def _discard_closed(dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    from sqlalchemy.exc import DisconnectionError

    driver_connection = getattr(dbapi_connection, "driver_connection", None)
    is_closed = getattr(driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        # The pool catches it, discards this connection and checks out another.
        raise DisconnectionError("the server closed this pooled connection")
