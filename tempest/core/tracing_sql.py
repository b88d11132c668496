"""SQL spans: OpenTelemetry's SQLAlchemy instrumentation on every engine, exactly once.

``opentelemetry-instrumentation-sqlalchemy`` traces an engine by listening to its cursor
events (:class:`EngineTracer`). Its instrumentor finds engines by wrapping
``create_engine``/``create_async_engine``, which misses the engines of modules that imported
those functions before it ran (tempest's database manager does), and wraps
``Engine.connect`` with a ``connect`` span per checkout; neither is used here. Instead one
class-level ``engine_connect`` listener instruments each engine, sync or the
``sync_engine`` of an ``AsyncEngine``, the first time it opens a connection, before that
connection's first statement, and never twice: a second set-up adds nothing.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["instrument_engine", "instrument_every_engine"]

_lock = threading.Lock()
_instrumented: weakref.WeakSet[Engine] = weakref.WeakSet()
_tracer: Any = None
_connections_usage: Any = None
_listening = False


def _instruments(tracer_provider: TracerProvider | None) -> tuple[Any, Any]:
    global _tracer, _connections_usage
    if _tracer is None:
        from opentelemetry.instrumentation.sqlalchemy.version import __version__
        from opentelemetry.metrics import get_meter
        from opentelemetry.trace import get_tracer

        name = "opentelemetry.instrumentation.sqlalchemy"
        _tracer = get_tracer(name, __version__, tracer_provider)
        _connections_usage = get_meter(name, __version__).create_up_down_counter(
            name="db.client.connections.usage",
            unit="connections",
            description="The number of connections that are currently in the state described "
            "by the state attribute.",
        )
    return _tracer, _connections_usage


def instrument_engine(
    engine: Engine | AsyncEngine, tracer_provider: TracerProvider | None = None
) -> bool:
    """Trace every statement ``engine`` runs (one client span per statement).

    Args:
        engine: A SQLAlchemy engine, or an ``AsyncEngine`` (its ``sync_engine`` is traced).
        tracer_provider: The provider of the spans; default: the global one. Only the
            first call of the process chooses it.

    Returns:
        True if the engine was instrumented now, False if it already was.
    """
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from sqlalchemy.ext import asyncio as sqlalchemy_asyncio

    from tempest.db.internals import root_engine

    if isinstance(engine, sqlalchemy_asyncio.AsyncEngine):
        sync_engine = engine.sync_engine
    else:
        sync_engine = engine
    # An engine made by ``execution_options()`` shares the events of the engine it came
    # from, including those added later: instrument that one, once.
    sync_engine = root_engine(sync_engine)
    with _lock:
        if sync_engine in _instrumented:
            return False
        _instrumented.add(sync_engine)
        tracer, usage = _instruments(tracer_provider)
    EngineTracer(tracer, sync_engine, usage)  # type: ignore[no-untyped-call]
    return True


def instrument_every_engine(tracer_provider: TracerProvider | None = None) -> None:
    """Instrument every engine of the process as it opens its first connection.

    Covers engines made before and after this call, by any code. Calling it again has
    no effect.

    Args:
        tracer_provider: The provider of the spans; default: the global one.
    """
    global _listening
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _instruments(tracer_provider)
    with _lock:
        if _listening:
            return
        _listening = True

    def on_engine_connect(connection: Connection) -> None:
        # One set lookup per connection; the engine's cursor listeners are added before
        # this connection runs its first statement.
        if connection.engine not in _instrumented:
            instrument_engine(connection.engine, tracer_provider)

    event.listen(Engine, "engine_connect", on_engine_connect)
