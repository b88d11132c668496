"""Logging SQL statements that take longer than a threshold."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SlowQueryLogger"]

_STARTED = "tempest.slow_query_started"
_EVENTS = ("before_cursor_execute", "after_cursor_execute")

# A statement is explained only when its first keyword is SELECT (a WITH may hold a
# DELETE ... RETURNING): leading comments and parentheses are skipped.
_FIRST_KEYWORD = re.compile(r"^(?:\s+|--[^\n]*\n|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)
_EXPLAIN = {"postgresql": "EXPLAIN ", "sqlite": "EXPLAIN QUERY PLAN "}


class SlowQueryLogger:
    """Log every statement slower than ``threshold_ms``.

    The record carries the statement (cut to ``max_statement_length``) and its duration.
    Its parameters, which may hold personal data or secrets, only with
    ``log_parameters=True``::

        slow = SlowQueryLogger(threshold_ms=200, explain=True)
        slow.attach(database.engine)

    Args:
        threshold_ms: Statements that take at least this long are logged.
        logger: Where to log; default ``tempest.db.slow``.
        max_statement_length: Longer statements are cut, with ``...`` appended.
        level: The records' level: a number or a name (``"INFO"``); WARNING by default.
        log_parameters: Add the statement's bound parameters to the record (off by
            default: they may hold passwords, tokens or personal data).
        explain: For a slow SELECT on PostgreSQL or SQLite, also log its plan (``EXPLAIN``,
            which plans without running the query; ``EXPLAIN QUERY PLAN`` on SQLite), run
            on the same connection with the same parameters after the statement. Never
            for another statement; a plan that cannot be had is left out, and the
            statement's result and transaction are untouched.

    Raises:
        ValueError: ``threshold_ms`` is negative, or ``level`` is not a level name.
        TypeError: ``level`` is neither a number nor a name.
    """

    def __init__(
        self,
        threshold_ms: float = 500.0,
        *,
        logger: logging.Logger | None = None,
        max_statement_length: int = 1000,
        level: int | str = logging.WARNING,
        log_parameters: bool = False,
        explain: bool = False,
    ) -> None:
        if threshold_ms < 0:
            raise ValueError("threshold_ms must be zero or more.")
        self.threshold = threshold_ms / 1000
        self.logger = logger or logging.getLogger("tempest.db.slow")
        self.max_statement_length = max_statement_length
        self.level = _level(level)
        self.log_parameters = log_parameters
        self.explain = explain
        self._engines: list[Engine] = []

    def attach(self, engine: Engine | AsyncEngine) -> None:
        """Start timing the statements of ``engine`` (sync or async); again is a no-op."""
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        if any(attached is sync_engine for attached in self._engines):
            return
        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)
        self._engines.append(sync_engine)

    def detach(self) -> None:
        """Stop timing every engine this logger was attached to; safe to call again."""
        for engine in self._engines:
            for name, listener in zip(_EVENTS, (self._before, self._after), strict=True):
                if event.contains(engine, name, listener):
                    event.remove(engine, name, listener)
        self._engines.clear()

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def _after(
        self,
        conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any = None,
        context: Any = None,
        executemany: bool = False,
    ) -> None:
        started = conn.info.get(_STARTED)
        if not started:
            return
        elapsed = time.perf_counter() - started.pop()
        if elapsed < self.threshold or not self.logger.isEnabledFor(self.level):
            return
        text = " ".join(statement.split())
        if len(text) > self.max_statement_length:
            text = text[: self.max_statement_length] + "..."
        message, values = "Slow query (%.1f ms): %s", [elapsed * 1000, text]
        extra: dict[str, Any] = {"duration_ms": round(elapsed * 1000, 3), "statement": text}
        if self.log_parameters:
            message += " parameters: %r"
            values.append(parameters)
            extra["parameters"] = parameters
        if self.explain and not executemany:
            plan = _plan(conn, statement, parameters)
            if plan:
                message += "\nplan:\n%s"
                values.append(plan)
                extra["plan"] = plan
        self.logger.log(self.level, message, *values, extra=extra)


def _level(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, int | str):
        raise TypeError(f"level must be a logging level (a number or a name), got {level!r}")
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(
            f"level must be a logging level (DEBUG, INFO, WARNING, ERROR, ...), got {level!r}"
        )
    return number


def _plan(conn: Any, statement: str, parameters: Any) -> str:
    """The plan of ``statement`` if it is a SELECT on PostgreSQL or SQLite, else ``""``.

    Runs on a cursor of its own (the statement's cursor still holds its rows). On
    PostgreSQL the EXPLAIN runs inside a savepoint when a transaction is open, so that
    even an EXPLAIN that fails cannot abort the caller's transaction (in autocommit there
    is none to abort).
    """
    prefix = _EXPLAIN.get(conn.dialect.name)
    keyword = _FIRST_KEYWORD.match(statement)
    if prefix is None or keyword is None or keyword.group(1).upper() != "SELECT":
        return ""
    dbapi_connection = conn.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    savepoint = False
    try:
        if conn.dialect.name == "postgresql":
            try:
                cursor.execute("SAVEPOINT tempest_explain")
                savepoint = True
            except Exception:  # no transaction block (autocommit): nothing to protect
                savepoint = False
        try:
            cursor.execute(prefix + statement, parameters or ())
            rows = cursor.fetchall()
        except Exception:
            if savepoint:
                cursor.execute("ROLLBACK TO SAVEPOINT tempest_explain")
            return ""
        finally:
            if savepoint:
                cursor.execute("RELEASE SAVEPOINT tempest_explain")
    except Exception:  # releasing the savepoint failed: leave the plan out
        return ""
    finally:
        cursor.close()
    # PostgreSQL: one text column per line; SQLite: (id, parent, notused, detail).
    return "\n".join(str(row[-1]) for row in rows)
