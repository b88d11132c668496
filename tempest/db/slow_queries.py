"""Logging SQL statements that take longer than a threshold."""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SlowQueryLogger"]

_STARTED = "tempest.slow_query_started"


class SlowQueryLogger:
    """Log every statement slower than ``threshold_ms`` at WARNING.

    The record carries the statement (cut to ``max_statement_length``) and its duration,
    never its parameters, which may hold personal data or secrets::

        slow = SlowQueryLogger(threshold_ms=200)
        slow.attach(database.engine)

    Args:
        threshold_ms: Statements that take at least this long are logged.
        logger: Where to log; default ``tempest.db.slow``.
        max_statement_length: Longer statements are cut, with ``...`` appended.
    """

    def __init__(
        self,
        threshold_ms: float = 500.0,
        *,
        logger: logging.Logger | None = None,
        max_statement_length: int = 1000,
    ) -> None:
        if threshold_ms < 0:
            raise ValueError("threshold_ms must be zero or more.")
        self.threshold = threshold_ms / 1000
        self.logger = logger or logging.getLogger("tempest.db.slow")
        self.max_statement_length = max_statement_length
        self._engines: list[Engine] = []

    def attach(self, engine: Engine | AsyncEngine) -> None:
        """Start timing the statements of ``engine`` (sync or async)."""
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        event.listen(sync_engine, "before_cursor_execute", self._before)
        event.listen(sync_engine, "after_cursor_execute", self._after)
        self._engines.append(sync_engine)

    def detach(self) -> None:
        """Stop timing every engine this logger was attached to."""
        for engine in self._engines:
            event.remove(engine, "before_cursor_execute", self._before)
            event.remove(engine, "after_cursor_execute", self._after)
        self._engines.clear()

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault(_STARTED, []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info.get(_STARTED)
        if not started:
            return
        elapsed = time.perf_counter() - started.pop()
        if elapsed >= self.threshold:
            text = " ".join(statement.split())
            if len(text) > self.max_statement_length:
                text = text[: self.max_statement_length] + "..."
            self.logger.warning(
                "Slow query (%.1f ms): %s",
                elapsed * 1000,
                text,
                extra={"duration_ms": round(elapsed * 1000, 3), "statement": text},
            )
