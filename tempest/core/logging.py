"""Logging set-up: one-line JSON records carrying the request ID, per-level files.

:func:`configure_logging` owns the root logger's handlers and routes the libraries tempest
runs on (uvicorn's access and error loggers, SQLAlchemy, TaskIQ, FastStream) through them,
so that with ``json_output`` every line a process writes is one JSON object.

Adding attributes to every record (the tracing integration adds ``trace_id`` and
``span_id``) goes through :func:`add_record_enricher`: an enricher is called once with each
record the handlers of :func:`configure_logging` handle, in the code that logs (so context
variables of the request are visible), after ``extra`` was applied, and may set attributes
on it; :class:`JSONFormatter` writes ``trace_id`` and ``span_id`` right after
``request_id`` when a record has them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tempest.utils.context import UNCAUGHT_500_FLAG, get_request_id

__all__ = [
    "LIBRARY_LOGGERS",
    "UNCAUGHT_500_FLAG",
    "JSONFormatter",
    "add_record_enricher",
    "configure_logging",
    "configure_logging_from_settings",
    "remove_record_enricher",
    "route_library_loggers",
]

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)))
# color_message: uvicorn's copy of the message with terminal colour codes.
_NOT_EXTRA = _RECORD_ATTRIBUTES | {"message", "asctime", "request_id", "taskName", "color_message"}
# Keys of the JSON object itself: an extra field of the same name is written as extra_<key>.
_RESERVED_KEYS = frozenset(
    {"timestamp", "level", "logger", "message", "request_id", "trace_id", "span_id"}
    | {"exception", "stack"}
)
# Where tracing integrations put the ids (OpenTelemetry's logging instrumentation).
_TRACE_ALIASES = (("trace_id", "otelTraceID"), ("span_id", "otelSpanID"))

_LEVEL_FILES: tuple[tuple[str, int], ...] = (
    ("debug", logging.DEBUG),
    ("info", logging.INFO),
    ("warning", logging.WARNING),
    ("error", logging.ERROR),
    ("critical", logging.CRITICAL),
)

LIBRARY_LOGGERS: tuple[str, ...] = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "sqlalchemy.engine.Engine",
    "taskiq",
    "faststream",
    "faststream.access.rabbit",
)
"""Loggers of the libraries whose own console handlers :func:`route_library_loggers` removes."""

# Marks the handlers configure_logging installed, so a second call replaces them.
_OWNED_MARK = "_tempest_owned"

_UVICORN_ACCESS_FIELDS = ("client_addr", "method", "path", "http_version", "status_code")

RecordEnricher = Callable[[logging.LogRecord], None]
_enrichers: list[RecordEnricher] = []


def add_record_enricher(enricher: RecordEnricher) -> None:
    """Call ``enricher`` on every log record, to add attributes to it.

    It is called once per record that the handlers of :func:`configure_logging` handle,
    in the code that logs, so context variables (the request, the current span) are
    those of the caller, and after ``extra`` was applied: leave an attribute the record
    already has (``if not hasattr(record, "trace_id")``). It sets attributes
    (``record.trace_id = ...``) that the formatters then write. An enricher that raises
    is skipped for that record. Adding the same enricher twice has no effect.

    Args:
        enricher: A function taking the record.
    """
    if enricher not in _enrichers:
        _enrichers.append(enricher)


def remove_record_enricher(enricher: RecordEnricher) -> None:
    """Stop calling ``enricher``; nothing happens if it was not added."""
    if enricher in _enrichers:
        _enrichers.remove(enricher)


class _EnrichFilter(logging.Filter):
    """Runs the enrichers once per record, before the first of our handlers formats it.

    A filter rather than a record factory: a factory runs before ``extra`` is applied, and
    logging refuses an ``extra`` key that is already an attribute of the record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if _enrichers and not getattr(record, "_tempest_enriched", False):
            record._tempest_enriched = True
            for enricher in tuple(_enrichers):
                try:
                    enricher(record)
                except Exception:  # an enricher must never stop a line from being logged
                    continue
        return True


_ENRICH = _EnrichFilter()


def _request_id_of(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, "request_id", None)
    return explicit if explicit is not None else get_request_id()


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if isinstance(key, str) and key not in _NOT_EXTRA and not key.startswith("_")
    }


def _message_of(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or the raw message and arguments when they do not match."""
    try:
        return record.getMessage()
    except Exception:  # "%d" given a string, too few arguments...: keep the line anyway
        return f"{record.msg!r} % {record.args!r}"


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` with every mapping key a string and anything else JSON lacks as ``str``."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if depth > 20:
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item, depth + 1) for item in value]
    return str(value)


class JSONFormatter(logging.Formatter):
    """Format each record as one line of JSON.

    The object holds ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``message``,
    ``request_id`` (from ``extra`` or the current request), ``trace_id`` and ``span_id``
    when the record has them (see :func:`add_record_enricher`), every field passed through
    ``extra=`` and, when present, ``exception`` and ``stack`` texts. An extra field named
    like one of those keys is written as ``extra_<name>``; values JSON cannot encode are
    written with ``str()``; a message whose arguments do not match its format is written
    raw instead of failing. uvicorn's access lines also get ``client_addr``, ``method``,
    ``path``, ``http_version`` and ``status_code`` fields.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as a single JSON line.

        Args:
            record: The record to render.

        Returns:
            The JSON text, without a trailing newline.
        """
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": _message_of(record),
            "request_id": _request_id_of(record),
        }
        for key, alias in _TRACE_ALIASES:
            value = getattr(record, key, None) or getattr(record, alias, None)
            if value:
                payload[key] = value
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            payload.update(zip(_UVICORN_ACCESS_FIELDS, args, strict=True))
        for key, value in _extra_fields(record).items():
            if key in _RESERVED_KEYS:
                key = f"extra_{key}"
            elif key in {alias for _, alias in _TRACE_ALIASES}:
                continue
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(payload, default=str, ensure_ascii=False)
        except (TypeError, ValueError):  # non-string keys in a nested dict, a cycle
            return json.dumps(_jsonable(payload), default=str, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """Human-readable lines: time, level, logger, [request id], message, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = _message_of(record)
        record.asctime = self.formatTime(record)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line

    def formatMessage(self, record: logging.LogRecord) -> str:
        request_id = _request_id_of(record) or "-"
        line = (
            f"{record.asctime} {record.levelname:<8} {record.name} [{request_id}] {record.message}"
        )
        extras = _extra_fields(record)
        if extras:
            line += " " + " ".join(f"{key}={value!r}" for key, value in extras.items())
        return line


class _ExactLevelFilter(logging.Filter):
    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno == self.level


class _Uncaught500Filter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return bool(getattr(record, UNCAUGHT_500_FLAG, False))


def _coerce_level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    levels = logging.getLevelNamesMapping()
    try:
        return levels[level.strip().upper()]
    except KeyError:
        valid = ", ".join(name for name, _ in _LEVEL_FILES)
        raise ValueError(f"Unknown log level {level!r}; use one of: {valid}.") from None


def _file_handler(path: Path, log_filter: logging.Filter) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.addFilter(log_filter)
    handler.setFormatter(JSONFormatter())
    return handler


def _is_console_handler(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and stream in (
        sys.stdout,
        sys.stderr,
        sys.__stdout__,
        sys.__stderr__,
    )


def route_library_loggers(names: tuple[str, ...] = LIBRARY_LOGGERS) -> None:
    """Send the records of the libraries' loggers through the root logger's handlers.

    uvicorn's default configuration, SQLAlchemy's ``echo``, TaskIQ and FastStream give
    their loggers console handlers of their own (plain text) and sometimes turn
    propagation off. This removes those console handlers (other handlers, such as a
    test's capture handler, stay), turns propagation on and leaves a ``NullHandler`` so
    the library does not add its own again. :func:`configure_logging` calls it; call it
    again after importing a library that sets its loggers up on import.

    Args:
        names: The loggers to route; default :data:`LIBRARY_LOGGERS`.
    """
    for name in names:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if _is_console_handler(handler):
                logger.removeHandler(handler)
        if not any(getattr(handler, _OWNED_MARK, False) for handler in logger.handlers):
            placeholder = logging.NullHandler()
            setattr(placeholder, _OWNED_MARK, True)
            logger.addHandler(placeholder)
        logger.propagate = True


def configure_logging(
    level: str | int = "INFO",
    json_output: bool = False,
    log_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Configure the root logger for a tempest process.

    Installs a stdout handler (JSON lines or readable text) and, when ``log_dir`` is
    given, one JSON file per level under it (``debug.log`` ... ``critical.log``, each
    holding only its own level) plus ``500.log`` for uncaught server errors. Calling it
    again replaces the handlers it installed earlier; other handlers are left alone. The
    libraries' loggers are routed through these handlers (:func:`route_library_loggers`)
    and, with ``json_output``, so are Python's warnings (``logging.captureWarnings``).

    Args:
        level: Minimum level of the root logger, as a name (``"INFO"``) or number.
        json_output: Write JSON lines to stdout instead of readable text.
        log_dir: Directory for the per-level files; ``None`` or ``""`` disables them.

    Raises:
        ValueError: ``level`` is not a known level name.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OWNED_MARK, False):
            root.removeHandler(handler)
            handler.close()

    root.setLevel(_coerce_level(level))

    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(JSONFormatter() if json_output else _TextFormatter())
    handlers: list[logging.Handler] = [console]

    if log_dir:
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for name, file_level in _LEVEL_FILES:
            handlers.append(_file_handler(directory / f"{name}.log", _ExactLevelFilter(file_level)))
        handlers.append(_file_handler(directory / "500.log", _Uncaught500Filter()))

    for handler in handlers:
        setattr(handler, _OWNED_MARK, True)
        handler.addFilter(_ENRICH)  # after the files' level filters: only records kept
        root.addHandler(handler)
    route_library_loggers()
    # Python's warnings become records of the py.warnings logger: JSON lines too.
    if json_output:
        logging.captureWarnings(True)


def configure_logging_from_settings() -> None:
    """:func:`configure_logging` with ``LOG_LEVEL``, ``LOG_JSON`` and ``LOG_DIR``.

    The ASGI application, ``serve``, ``runserver``, ``worker`` and ``consumer`` call it,
    so a project's processes all log the same way.
    """
    from tempest.conf import settings

    configure_logging(
        level=settings.LOG_LEVEL, json_output=settings.LOG_JSON, log_dir=settings.LOG_DIR or None
    )
